package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Metrics computed on synthetic timelines whose answers are worked out by hand. */
class BenchmarkResultTest {

  private static final long MS = 1_000_000L;
  private static final double[] P = {50, 90, 99};

  /** A successful request: sent at {@code sendMs}, chunks at the given offsets (ms from send). */
  private static RequestResult ok(long sendMs, int outputTokens, long... chunkOffsetsMs) {
    long[] itl = new long[chunkOffsetsMs.length - 1];
    for (int i = 1; i < chunkOffsetsMs.length; i++) {
      itl[i - 1] = (chunkOffsetsMs[i] - chunkOffsetsMs[i - 1]) * MS;
    }
    return new RequestResult(
        true,
        sendMs * MS,
        chunkOffsetsMs[0] * MS,
        chunkOffsetsMs[chunkOffsetsMs.length - 1] * MS,
        itl,
        outputTokens,
        true,
        10,
        "x",
        "",
        "");
  }

  @Test
  void ttftTpotItlAndE2elFollowVllmDefinitions() {
    // Request A: TTFT 100, chunks at 100, 120, 140, 160 -> 4 tokens, E2EL 160,
    //   TPOT = (160 - 100) / 3 = 20, ITLs 20, 20, 20.
    // Request B: TTFT 200, chunks at 200, 300 but usage says 3 tokens -> E2EL 300,
    //   TPOT = (300 - 200) / 2 = 50, ITL 100.
    // Request C: one token at 50 -> no TPOT sample, no ITL.
    List<RequestResult> results =
        List.of(ok(0, 4, 100, 120, 140, 160), ok(0, 3, 200, 300), ok(0, 1, 50));
    BenchmarkResult r =
        BenchmarkResult.compute(
            results,
            new int[] {10, 10, 10},
            2_000 * MS,
            Goodput.NONE,
            List.of(LatencyMetric.values()),
            P);

    assertThat(r.completed()).isEqualTo(3);
    assertThat(r.failed()).isZero();
    assertThat(r.stats(LatencyMetric.TTFT).meanMs())
        .isCloseTo((100 + 200 + 50) / 3.0, within(1e-9));
    assertThat(r.stats(LatencyMetric.TTFT).count()).isEqualTo(3);
    assertThat(r.stats(LatencyMetric.TPOT).count()).isEqualTo(2);
    assertThat(r.stats(LatencyMetric.TPOT).meanMs()).isCloseTo(35.0, within(1e-9));
    assertThat(r.stats(LatencyMetric.ITL).count()).isEqualTo(4);
    assertThat(r.stats(LatencyMetric.ITL).meanMs())
        .isCloseTo((20 + 20 + 20 + 100) / 4.0, within(1e-9));
    assertThat(r.stats(LatencyMetric.E2EL).meanMs())
        .isCloseTo((160 + 300 + 50) / 3.0, within(1e-9));
    // Population standard deviation of TPOT {20, 50}: 15.
    assertThat(r.stats(LatencyMetric.TPOT).stdMs()).isCloseTo(15.0, within(1e-9));
    // Nearest-rank percentiles (HdrHistogram, 0.1% precision): ITL {20, 20, 20, 100}.
    assertThat(r.stats(LatencyMetric.ITL).medianMs()).isCloseTo(20, within(0.03));
    assertThat(r.stats(LatencyMetric.ITL).at(99)).isCloseTo(100, within(0.1));
    assertThat(r.stats(LatencyMetric.ITL).at(90)).isCloseTo(100, within(0.1));
    // Throughput over the 2 s run: 3 requests, 8 output tokens, 30 input tokens.
    assertThat(r.requestThroughput()).isCloseTo(1.5, within(1e-9));
    assertThat(r.outputThroughput()).isCloseTo(4.0, within(1e-9));
    assertThat(r.totalTokenThroughput()).isCloseTo(19.0, within(1e-9));
    assertThat(r.totalOutputTokens()).isEqualTo(8);
    assertThat(r.totalInputTokens()).isEqualTo(30);
    assertThat(r.requestGoodput()).isNaN();
  }

  @Test
  void percentilesOfAHundredSamplesAreNearestRank() {
    List<RequestResult> results = new java.util.ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      results.add(ok(0, 1, i)); // TTFT 1..100 ms
    }
    BenchmarkResult r =
        BenchmarkResult.compute(
            results, new int[100], 1_000 * MS, Goodput.NONE, List.of(LatencyMetric.TTFT), P);
    LatencyStats ttft = r.stats(LatencyMetric.TTFT);
    assertThat(ttft.meanMs()).isCloseTo(50.5, within(1e-9));
    assertThat(ttft.medianMs()).isCloseTo(50, within(0.05));
    assertThat(ttft.at(90)).isCloseTo(90, within(0.09));
    assertThat(ttft.at(99)).isCloseTo(99, within(0.1));
  }

  @Test
  void goodputCountsRequestsMeetingEverySlo() {
    // TPOTs: A 20, B 50, C counts as 0 (one token). TTFTs 100, 200, 50. E2ELs 160, 300, 50.
    List<RequestResult> results =
        List.of(ok(0, 4, 100, 120, 140, 160), ok(0, 3, 200, 300), ok(0, 1, 50));
    int[] lens = {10, 10, 10};
    double seconds = 2;
    var metrics = List.of(LatencyMetric.values());
    assertThat(good(results, lens, "ttft:150")).isCloseTo(2 / seconds, within(1e-9));
    assertThat(good(results, lens, "tpot:30")).isCloseTo(2 / seconds, within(1e-9));
    assertThat(good(results, lens, "ttft:150 tpot:10")).isCloseTo(1 / seconds, within(1e-9));
    assertThat(good(results, lens, "e2el:300")).isCloseTo(3 / seconds, within(1e-9));
    assertThat(good(results, lens, "e2el:299")).isCloseTo(2 / seconds, within(1e-9));
    assertThat(metrics).hasSize(4);
  }

  private static double good(List<RequestResult> results, int[] lens, String spec) {
    return BenchmarkResult.compute(
            results, lens, 2_000 * MS, Goodput.parse(List.of(spec)), List.of(LatencyMetric.TTFT), P)
        .requestGoodput();
  }

  @Test
  void failuresAreCountedWithReasonsAndLeftOutOfLatency() {
    List<RequestResult> results =
        List.of(
            ok(0, 2, 10, 30),
            RequestResult.failure(0, 5 * MS, "HTTP 500", "HTTP 500: boom"),
            RequestResult.failure(0, 1 * MS, "connect failed", "cannot connect"),
            RequestResult.failure(0, 1 * MS, "HTTP 500", "HTTP 500: boom again"));
    BenchmarkResult r =
        BenchmarkResult.compute(
            results,
            new int[] {7, 8, 9, 10},
            1_000 * MS,
            Goodput.NONE,
            List.of(LatencyMetric.values()),
            P);
    assertThat(r.completed()).isEqualTo(1);
    assertThat(r.failed()).isEqualTo(3);
    assertThat(r.failureReasons())
        .containsExactly(Map.entry("HTTP 500", 2), Map.entry("connect failed", 1));
    assertThat(r.stats(LatencyMetric.TTFT).count()).isEqualTo(1);
    assertThat(r.totalInputTokens()).isEqualTo(10); // server usage (10) replaces the dataset's 7
    assertThat(r.inputLens()).containsExactly(10, 8, 9, 10);
    assertThat(r.outputLens()).containsExactly(2, 0, 0, 0);
    assertThat(r.errors())
        .containsExactly("", "HTTP 500: boom", "cannot connect", "HTTP 500: boom again");
    String table = r.summaryTable(null, Double.POSITIVE_INFINITY);
    assertThat(table).contains("Failed requests:                         3");
    assertThat(table).contains("HTTP 500:");
  }

  @Test
  void noSuccessfulRequestGivesZerosNotErrors() {
    BenchmarkResult r =
        BenchmarkResult.compute(
            List.of(RequestResult.failure(0, MS, "timeout", "t")),
            new int[] {5},
            MS,
            Goodput.NONE,
            List.of(LatencyMetric.values()),
            P);
    assertThat(r.stats(LatencyMetric.TTFT).meanMs()).isZero();
    assertThat(r.stats(LatencyMetric.ITL).at(99)).isZero();
    assertThat(r.maxOutputTokensPerS()).isZero();
  }

  @Test
  void jsonUsesVllmKeys() {
    BenchmarkResult r =
        BenchmarkResult.compute(
            List.of(ok(0, 4, 100, 120, 140, 160)),
            new int[] {10},
            1_000 * MS,
            Goodput.parse(List.of("ttft:500")),
            List.of(LatencyMetric.TTFT, LatencyMetric.TPOT, LatencyMetric.ITL, LatencyMetric.E2EL),
            new double[] {99, 99.9});
    Map<String, Object> json = r.toJson(false);
    assertThat(json)
        .containsKeys(
            "duration",
            "completed",
            "failed",
            "total_input_tokens",
            "total_output_tokens",
            "request_throughput",
            "request_goodput",
            "output_throughput",
            "total_token_throughput",
            "max_output_tokens_per_s",
            "max_concurrent_requests",
            "mean_ttft_ms",
            "median_ttft_ms",
            "std_ttft_ms",
            "p99_ttft_ms",
            "p99.9_ttft_ms",
            "mean_tpot_ms",
            "p99_tpot_ms",
            "mean_itl_ms",
            "p99_itl_ms",
            "mean_e2el_ms",
            "input_lens",
            "output_lens",
            "ttfts",
            "itls",
            "errors");
    assertThat(json).doesNotContainKey("generated_texts");
    assertThat((double[]) json.get("ttfts")).containsExactly(0.1);
    assertThat(r.toJson(true)).containsKey("generated_texts");
  }

  @Test
  void peakRatesBucketChunksPerSecond() {
    // Chunks at 0.1 s, 0.5 s, 1.2 s (request 1) and 0.3 s (request 2): 3 in the first second.
    List<RequestResult> results = List.of(ok(0, 3, 100, 500, 1200), ok(0, 1, 300));
    long[] peak = BenchmarkResult.peakRates(results);
    assertThat(peak[0]).isEqualTo(3);
    assertThat(peak[1]).isEqualTo(2);
  }
}
