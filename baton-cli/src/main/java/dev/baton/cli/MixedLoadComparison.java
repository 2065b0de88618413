package dev.baton.cli;

import dev.baton.bench.BenchmarkResult;
import dev.baton.bench.EndpointConfig;
import dev.baton.bench.Goodput;
import dev.baton.bench.LatencyMetric;
import dev.baton.bench.OpenAiClient;
import dev.baton.bench.PreparedRequest;
import dev.baton.bench.RequestResult;
import dev.baton.control.WorkerPlan;
import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;

/**
 * The demo's headline: the same mixed workload — a few requests decoding long answers while long
 * prompts keep arriving — sent once to the colocated pool (two workers that prefill and decode) and
 * once to the disaggregated pool (one prefill worker, one decode worker), each pool holding the
 * same number of cores. Colocated, every long prompt's prefill chunks run inside the decoding
 * requests' steps and stretch their inter-token gaps; disaggregated, the decode worker only loads
 * the finished KV, so the decode tail stays short while the prompt waits longer for its first
 * token. Metrics are {@code baton bench}'s (vLLM's names).
 */
final class MixedLoadComparison {

  /**
   * The workload.
   *
   * @param decoders requests sent at once that decode {@code decodeTokens} tokens each
   * @param longPrompts long-prompt requests arriving one every {@code longPromptGapMs} while the
   *     decoders run
   * @param longPromptWords words in each long prompt (about 1.5 tokens each)
   * @param longPromptTokens tokens each long prompt asks for
   * @param slo the SLO for goodput
   */
  record Plan(
      int decoders,
      int decodeTokens,
      int longPrompts,
      int longPromptWords,
      int longPromptTokens,
      long longPromptGapMs,
      Goodput slo) {

    /** Sized so both runs take well under a minute on a 2-core machine with the tiny model. */
    static Plan standard() {
      return new Plan(4, 160, 8, 700, 8, 350, new Goodput(2000, 25, Double.NaN));
    }
  }

  static final List<String> ROUTES = List.of("colocated", "disaggregated");

  private final Plan plan;
  private final PrintStream out;

  MixedLoadComparison(Plan plan, PrintStream out) {
    this.plan = plan;
    this.out = out;
  }

  /** Runs the workload against both pools, one after the other; returns vLLM-named summaries. */
  Map<String, BenchmarkResult> run(String gatewayUrl) throws InterruptedException {
    out.printf(
        Locale.ROOT,
        "%n== mixed load: %d requests decoding %d tokens each while %d prompts of ~%d words"
            + " arrive every %d ms%n",
        plan.decoders(),
        plan.decodeTokens(),
        plan.longPrompts(),
        plan.longPromptWords(),
        plan.longPromptGapMs());
    Map<String, BenchmarkResult> results = new LinkedHashMap<>();
    for (String route : ROUTES) {
      out.println("   " + route + " ...");
      results.put(route, runOnce(gatewayUrl, route));
    }
    return results;
  }

  private BenchmarkResult runOnce(String gatewayUrl, String route) throws InterruptedException {
    EndpointConfig endpoint =
        new EndpointConfig(
            URI.create(gatewayUrl),
            "/v1/completions",
            route.equals("colocated") ? WorkerPlan.COLOCATED_POOL : null,
            null,
            true,
            true,
            null,
            Duration.ofSeconds(60));
    List<PreparedRequest> requests = requests(route);
    try (OpenAiClient client = new OpenAiClient(endpoint, text -> 0)) {
      // One short request per pool worker first so JIT compilation is not measured.
      for (int i = 0; i < 2; i++) {
        client.send(PreparedRequest.text(words(40, 1000 + i, route), 40, 8), null);
      }
      List<Future<RequestResult>> pending = new ArrayList<>();
      long start = System.nanoTime();
      try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < requests.size(); i++) {
          if (i >= plan.decoders()) {
            long due = start + (i - plan.decoders() + 1) * plan.longPromptGapMs() * 1_000_000;
            while (System.nanoTime() < due) {
              LockSupport.parkNanos(due - System.nanoTime());
            }
          }
          PreparedRequest r = requests.get(i);
          pending.add(threads.submit(() -> client.send(r, null)));
        }
      }
      long end = System.nanoTime();
      List<RequestResult> results = new ArrayList<>();
      for (Future<RequestResult> f : pending) {
        try {
          results.add(f.get());
        } catch (java.util.concurrent.ExecutionException e) {
          throw new IllegalStateException("a demo request thread failed", e.getCause());
        }
      }
      return BenchmarkResult.compute(
          results,
          requests.stream().mapToInt(PreparedRequest::promptLen).toArray(),
          end - start,
          plan.slo(),
          List.of(LatencyMetric.values()),
          new double[] {50, 90, 99});
    }
  }

  /** Decoders first, then the long prompts; every prompt differs so no prefix cache helps. */
  private List<PreparedRequest> requests(String route) {
    List<PreparedRequest> list = new ArrayList<>();
    for (int i = 0; i < plan.decoders(); i++) {
      list.add(PreparedRequest.text(words(24, i, route), 24, plan.decodeTokens()));
    }
    for (int i = 0; i < plan.longPrompts(); i++) {
      list.add(
          PreparedRequest.text(
              words(plan.longPromptWords(), 100 + i, route),
              plan.longPromptWords(),
              plan.longPromptTokens()));
    }
    return list;
  }

  private static final String[] VOCABULARY =
      ("the train left the harbour at dawn and climbed past the old mill towards the summit"
              + " where the river bends under nine stone arches while passengers watch the valley")
          .split(" ");

  /** A prompt of {@code n} words that differs from every other (seed, route) from its start. */
  static String words(int n, int seed, String route) {
    StringBuilder text = new StringBuilder(route).append(' ').append(seed);
    long state = seed * 0x9E3779B97F4A7C15L + route.hashCode();
    for (int i = 0; i < n; i++) {
      state = state * 6364136223846793005L + 1442695040888963407L;
      text.append(' ').append(VOCABULARY[(int) ((state >>> 33) % VOCABULARY.length)]);
    }
    return text.toString();
  }

  /** The side-by-side table and one line on what it means. */
  void print(Map<String, BenchmarkResult> results) {
    BenchmarkResult c = results.get("colocated");
    BenchmarkResult d = results.get("disaggregated");
    out.println();
    out.println("== colocated vs disaggregated under mixed load (equal cores, same requests)");
    out.printf(Locale.ROOT, "%-22s %14s %14s%n", "", "colocated", "disaggregated");
    row(
        "completed / failed",
        c.completed() + " / " + c.failed(),
        d.completed() + " / " + d.failed());
    for (LatencyMetric m : List.of(LatencyMetric.TTFT, LatencyMetric.TPOT, LatencyMetric.ITL)) {
      row(m.label + " p50 ms", fmt(c.stats(m).medianMs()), fmt(d.stats(m).medianMs()));
      row(
          m.label + " p99 ms",
          fmt(c.stats(m).percentileMs()[2]),
          fmt(d.stats(m).percentileMs()[2]));
    }
    row("goodput req/s", fmt2(c.requestGoodput()), fmt2(d.requestGoodput()));
    out.printf(
        Locale.ROOT,
        "(goodput: completed requests per second with TTFT <= %.0f ms and TPOT <= %.0f ms)%n",
        plan.slo().ttftMs(),
        plan.slo().tpotMs());
    double itlRatio =
        c.stats(LatencyMetric.ITL).percentileMs()[2] / d.stats(LatencyMetric.ITL).percentileMs()[2];
    double ttftRatio = d.stats(LatencyMetric.TTFT).meanMs() / c.stats(LatencyMetric.TTFT).meanMs();
    out.printf(
        Locale.ROOT,
        "p99 ITL colocated/disaggregated x%.2f, mean TTFT disaggregated/colocated x%.2f: colocated,"
            + " each long prompt's prefill runs inside the decoding requests' steps and stalls"
            + " their tokens; disaggregated, decoding never waits for a prefill%s.%n",
        itlRatio,
        ttftRatio,
        ttftRatio > 1
            ? ", and a new prompt pays for it with a later first token (the KV hop and one prefill"
                + " worker instead of two)"
            : " (here the first tokens came no later either)");
  }

  private void row(String name, String colocated, String disaggregated) {
    out.printf(Locale.ROOT, "%-22s %14s %14s%n", name, colocated, disaggregated);
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
  }

  private static String fmt2(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
  }

  /** The {@code --json} document: per route, vLLM's summary keys without per-request arrays. */
  static Map<String, Object> summaryJson(Map<String, BenchmarkResult> results) {
    Map<String, Object> json = new LinkedHashMap<>();
    for (Map.Entry<String, BenchmarkResult> e : results.entrySet()) {
      Map<String, Object> summary = new LinkedHashMap<>(e.getValue().toJson(false));
      for (String perRequest : List.of("input_lens", "output_lens", "ttfts", "itls")) {
        summary.remove(perRequest);
      }
      json.put(e.getKey(), summary);
    }
    return json;
  }
}
