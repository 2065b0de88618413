package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Command-line values: clear errors for bad ones. */
class ParsingTest {

  @Test
  void goodputParsesPairsInOneOrSeveralArguments() {
    Goodput g = Goodput.parse(List.of("ttft:500", "tpot:50 e2el:9000"));
    assertThat(g.ttftMs()).isEqualTo(500);
    assertThat(g.tpotMs()).isEqualTo(50);
    assertThat(g.e2elMs()).isEqualTo(9000);
    assertThat(Goodput.parse(List.of()).isSet()).isFalse();
  }

  @Test
  void goodputRejectsUnknownMetricsAndBadNumbers() {
    assertThatThrownBy(() -> Goodput.parse(List.of("ttfx:5")))
        .hasMessageContaining("unknown metric");
    assertThatThrownBy(() -> Goodput.parse(List.of("ttft:fast"))).hasMessageContaining("ttft:fast");
    assertThatThrownBy(() -> Goodput.parse(List.of("ttft")))
        .hasMessageContaining("NAME:MILLISECONDS");
    assertThatThrownBy(() -> Goodput.parse(List.of("ttft:-1"))).hasMessageContaining(">= 0");
  }

  @Test
  void percentileMetricsAndPercentiles() {
    assertThat(LatencyMetric.parseList("ttft, itl,ttft"))
        .containsExactly(LatencyMetric.TTFT, LatencyMetric.ITL);
    assertThatThrownBy(() -> LatencyMetric.parseList("ttft,foo")).hasMessageContaining("foo");
    assertThat(LatencyMetric.parsePercentiles("50,99.9")).containsExactly(50, 99.9);
    assertThatThrownBy(() -> LatencyMetric.parsePercentiles("101")).hasMessageContaining("101");
    assertThat(LatencyMetric.percentileWord(99)).isEqualTo("99");
    assertThat(LatencyMetric.percentileWord(99.9)).isEqualTo("99.9");
  }

  @Test
  void ratesAcceptInfAndRejectZero() {
    assertThat(BenchConfig.parseRate("inf")).isInfinite();
    assertThat(BenchConfig.parseRate("2.5")).isEqualTo(2.5);
    assertThatThrownBy(() -> BenchConfig.parseRate("0")).hasMessageContaining("> 0");
    assertThatThrownBy(() -> BenchConfig.parseRate("fast")).hasMessageContaining("fast");
    assertThat(BenchConfig.rateText(Double.POSITIVE_INFINITY)).isEqualTo("inf");
    assertThat(BenchConfig.rateText(4)).isEqualTo("4");
  }

  @Test
  void configsRejectNonsense() {
    assertThatThrownBy(() -> EndpointConfig.of("localhost:8000", "/v1/completions"))
        .hasMessageContaining("--base-url");
    assertThatThrownBy(() -> EndpointConfig.of("http://h:99999", "/v1/completions"))
        .hasMessageContaining("port");
    assertThatThrownBy(() -> EndpointConfig.of("ftp://h/", "/v1/completions"))
        .hasMessageContaining("http");
    assertThatThrownBy(() -> EndpointConfig.of("http://h:1", "v1/completions"))
        .hasMessageContaining("--endpoint");
    assertThatThrownBy(() -> DatasetConfig.random(0, 10, 10, 0))
        .hasMessageContaining("--num-prompts");
    assertThatThrownBy(() -> DatasetConfig.random(1, 10, 10, 0).withName("sharegpt"))
        .hasMessageContaining("--dataset-path");
    assertThatThrownBy(() -> DatasetConfig.random(1, 10, 10, 0).withName("squad"))
        .hasMessageContaining("random, prefix, multiturn or sharegpt");
    assertThatThrownBy(() -> LoadConfig.allAtOnce().withDuration(java.time.Duration.ofSeconds(1)))
        .hasMessageContaining("--max-concurrency");
    assertThat(EndpointConfig.of("http://h:1/", "/v1/chat/completions").chat()).isTrue();
    assertThat(EndpointConfig.of("http://h:1/base/", "/v1/completions").resolve("/tokenize"))
        .hasToString("http://h:1/base/tokenize");
  }
}
