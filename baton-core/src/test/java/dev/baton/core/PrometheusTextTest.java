package dev.baton.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class PrometheusTextTest {

  private static final String TEXT =
      """
      # HELP vllm:num_requests_running Number of requests running.
      # TYPE vllm:num_requests_running gauge
      vllm:num_requests_running{model_name="tiny",engine="0"} 3.0
      vllm:num_requests_waiting{model_name="tiny"} 2
      vllm:gpu_cache_usage_perc{model_name="ti,ny \\"q\\""} 0.25
      vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="tiny"} 2
      vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="tiny"} 8
      vllm:time_to_first_token_seconds_bucket{le="1.0",model_name="tiny"} 10
      vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="tiny"} 10
      vllm:time_to_first_token_seconds_count{model_name="tiny"} 10
      garbage line without value
      bad_value{a="b"} notanumber
      """;

  @Test
  void readsGaugesWithLabelsAndFallbacks() {
    PrometheusText m = PrometheusText.parse(TEXT);
    assertThat(m.sum("vllm:num_requests_running")).isEqualTo(3.0);
    assertThat(m.sum("vllm:num_requests_waiting")).isEqualTo(2.0);
    assertThat(m.firstOf(-1, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"))
        .isEqualTo(0.25);
    assertThat(m.has("bad_value")).isFalse();
    assertThat(m.sum("absent")).isZero();
  }

  @Test
  void histogramQuantilesInterpolateInsideBuckets() {
    PrometheusText.Histogram h =
        PrometheusText.parse(TEXT).histogram("vllm:time_to_first_token_seconds");
    assertThat(h.count()).isEqualTo(10);
    // rank 9 of 10 lies in (0.5, 1.0] which holds 2 counts: halfway -> 0.75
    assertThat(h.quantile(0.9)).isCloseTo(0.75, within(1e-9));
    // rank 5 lies in (0.1, 0.5] holding 6: 3/6 of the way -> 0.3
    assertThat(h.quantile(0.5)).isCloseTo(0.3, within(1e-9));
  }

  @Test
  void histogramDeltasGiveTheLatestWindowAndSurviveResets() {
    PrometheusText.Histogram before =
        PrometheusText.parse(TEXT).histogram("vllm:time_to_first_token_seconds");
    PrometheusText.Histogram after =
        PrometheusText.parse(
                """
                x_bucket{le="0.1"} 2
                x_bucket{le="0.5"} 8
                x_bucket{le="1.0"} 20
                x_bucket{le="+Inf"} 20
                """)
            .histogram("x");
    PrometheusText.Histogram delta = after.minus(before);
    assertThat(delta.count()).isEqualTo(10);
    assertThat(delta.quantile(0.5)).isCloseTo(0.75, within(1e-9));
    assertThat(new PrometheusText.Histogram(new java.util.TreeMap<>()).quantile(0.9)).isNull();
    // A worker restart resets its counters: the new values are the window.
    assertThat(before.minus(after).count()).isEqualTo(10);
  }
}
