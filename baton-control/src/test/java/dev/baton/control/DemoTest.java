package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.PrometheusText;
import dev.baton.core.Role;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

class DemoTest {

  @Test
  void demoSpecIsValidAndHasOnePrefillOneDecodeAndTwoColocatedWorkers() {
    Demo demo =
        new Demo(
            new Demo.Options(
                null,
                "tiny",
                "demo",
                16,
                false,
                new PrintStream(new ByteArrayOutputStream()),
                m -> 0,
                null));
    ClusterSpec spec = SpecParser.parse(demo.spec(), "demo");
    assertThat(spec.model()).isEqualTo("random:tiny");
    assertThat(spec.initialWorkers(Role.PREFILL)).isEqualTo(1);
    assertThat(spec.initialWorkers(Role.DECODE)).isEqualTo(1);
    assertThat(spec.initialWorkers(Role.BOTH)).isEqualTo(2);
  }

  @Test
  void kvByteCountersAreFoundByMeaningNotExactName() {
    PrometheusText none = PrometheusText.parse("vllm:num_requests_running 0\n");
    assertThat(Demo.kvBytesReceived(none)).isNaN();
    PrometheusText some =
        PrometheusText.parse(
            """
            baton_kv_bytes_loaded_total{model_name="m"} 1024
            baton_kv_pull_bytes_total 512
            baton_kv_bytes_sent_total 9999
            baton_kv_transfer_bytes_bucket{le="1"} 3
            """);
    assertThat(Demo.kvBytesReceived(some)).isEqualTo(1536);
    assertThat(
            Demo.prefillComputed(
                PrometheusText.parse(
                    "baton_step_tokens_total{kind=\"decode\"} 9\nbaton_step_tokens_total{kind=\"prefill\"} 7\n")))
        .isEqualTo(7);
    assertThat(Demo.prefixHits(PrometheusText.parse("vllm:prefix_cache_hits_total 48\n")))
        .isEqualTo(48);
  }

  @Test
  void mediansAndSizesPrint() {
    assertThat(Demo.median(new double[] {3, 1, 2})).isEqualTo(2);
    assertThat(Demo.median(new double[] {4, 1, Double.NaN, 2, 3})).isEqualTo(2.5);
    assertThat(Demo.median(new double[] {})).isNaN();
    assertThat(Demo.human(-1)).isEqualTo("n/a");
    assertThat(Demo.human(0)).isEqualTo("0");
    assertThat(Demo.human(512)).isEqualTo("512 B");
    assertThat(Demo.human(3 * 1024 * 1024 / 2)).isEqualTo("1.5 MiB");
  }
}
