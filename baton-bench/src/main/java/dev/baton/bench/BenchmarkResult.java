package dev.baton.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The metrics of one benchmark run, computed as {@code vllm bench serve} computes them: TTFT per
 * request, TPOT = (E2EL − TTFT) / (output tokens − 1) for requests with more than one output token,
 * ITL = every gap between streamed chunks, E2EL; throughput over the run's wall time; goodput =
 * requests meeting every SLO per second. Percentiles come from HdrHistogram.
 */
public record BenchmarkResult(
    double durationS,
    int completed,
    int failed,
    long totalInputTokens,
    long totalOutputTokens,
    double requestThroughput,
    double requestGoodput,
    double outputThroughput,
    double totalTokenThroughput,
    double maxOutputTokensPerS,
    int maxConcurrentRequests,
    Goodput goodput,
    List<LatencyMetric> percentileMetrics,
    double[] percentiles,
    Map<LatencyMetric, LatencyStats> latency,
    Map<LatencyMetric, long[]> samplesNanos,
    int[] inputLens,
    int[] outputLens,
    long[] ttftNanos,
    List<long[]> itlNanos,
    List<String> errors,
    List<String> generatedTexts,
    Map<String, Integer> failureReasons) {

  /**
   * Computes the run's metrics.
   *
   * @param results every measured request, in send order (warm-up excluded)
   * @param datasetPromptLens the prompt length the dataset intended for each request; the server's
   *     reported prompt tokens replace it where present
   * @param durationNanos the run's wall time, first send to last completion
   */
  public static BenchmarkResult compute(
      List<RequestResult> results,
      int[] datasetPromptLens,
      long durationNanos,
      Goodput goodput,
      List<LatencyMetric> percentileMetrics,
      double[] percentiles) {
    if (datasetPromptLens.length != results.size()) {
      throw new IllegalArgumentException("one prompt length per request is needed");
    }
    int n = results.size();
    int[] inputLens = new int[n];
    int[] outputLens = new int[n];
    long[] ttfts = new long[n];
    List<long[]> itls = new ArrayList<>(n);
    List<String> errors = new ArrayList<>(n);
    List<String> texts = new ArrayList<>(n);
    Map<String, Integer> reasons = new TreeMap<>();
    List<Long> ttftSamples = new ArrayList<>();
    List<Long> tpotSamples = new ArrayList<>();
    List<Long> e2elSamples = new ArrayList<>();
    int itlCount = 0;
    int completed = 0;
    int good = 0;
    long totalInput = 0;
    long totalOutput = 0;
    for (int i = 0; i < n; i++) {
      RequestResult r = results.get(i);
      inputLens[i] = r.promptTokens() >= 0 ? r.promptTokens() : datasetPromptLens[i];
      itls.add(r.itlNanos());
      errors.add(r.error());
      texts.add(r.generatedText());
      if (!r.success()) {
        reasons.merge(r.errorKind(), 1, Integer::sum);
        continue;
      }
      completed++;
      int outputLen = r.outputTokens();
      outputLens[i] = outputLen;
      ttfts[i] = r.ttftNanos();
      totalInput += inputLens[i];
      totalOutput += outputLen;
      ttftSamples.add(r.ttftNanos());
      e2elSamples.add(r.e2elNanos());
      itlCount += r.itlNanos().length;
      // vLLM: TPOT only for requests with more than one output token; for goodput such
      // requests count with TPOT 0.
      double tpotNanos = 0;
      if (outputLen > 1) {
        tpotNanos = (double) (r.e2elNanos() - r.ttftNanos()) / (outputLen - 1);
        tpotSamples.add(Math.round(tpotNanos));
      }
      if (goodput.isGood(r.ttftNanos() / 1e6, tpotNanos / 1e6, r.e2elNanos() / 1e6)) {
        good++;
      }
    }
    long[] itlSamples = new long[itlCount];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (results.get(i).success()) {
        long[] gaps = results.get(i).itlNanos();
        System.arraycopy(gaps, 0, itlSamples, k, gaps.length);
        k += gaps.length;
      }
    }
    Map<LatencyMetric, long[]> samples = new EnumMap<>(LatencyMetric.class);
    samples.put(LatencyMetric.TTFT, toArray(ttftSamples));
    samples.put(LatencyMetric.TPOT, toArray(tpotSamples));
    samples.put(LatencyMetric.ITL, itlSamples);
    samples.put(LatencyMetric.E2EL, toArray(e2elSamples));
    Map<LatencyMetric, LatencyStats> latency = new EnumMap<>(LatencyMetric.class);
    for (LatencyMetric m : LatencyMetric.values()) {
      latency.put(m, LatencyStats.of(samples.get(m), percentiles));
    }
    double seconds = durationNanos / 1e9;
    double perSecond = seconds > 0 ? 1 / seconds : 0;
    long[] peak = peakRates(results);
    return new BenchmarkResult(
        seconds,
        completed,
        n - completed,
        totalInput,
        totalOutput,
        completed * perSecond,
        goodput.isSet() ? good * perSecond : Double.NaN,
        totalOutput * perSecond,
        (totalInput + totalOutput) * perSecond,
        peak[0],
        (int) peak[1],
        goodput,
        List.copyOf(percentileMetrics),
        percentiles.clone(),
        latency,
        samples,
        inputLens,
        outputLens,
        ttfts,
        itls,
        errors,
        texts,
        reasons);
  }

  private static long[] toArray(List<Long> values) {
    return values.stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * vLLM's peak metrics: chunks per one-second bucket (from the run's first send), and requests
   * active in a bucket; returns {max chunks per second, max concurrent requests}.
   */
  static long[] peakRates(List<RequestResult> results) {
    long start = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    for (RequestResult r : results) {
      if (r.success()) {
        start = Math.min(start, r.sendNanos());
        end = Math.max(end, r.endNanos());
      }
    }
    if (start == Long.MAX_VALUE) {
      return new long[] {0, 0};
    }
    int buckets = (int) Math.ceil((end - start) / 1e9) + 1;
    long[] chunks = new long[buckets];
    long[] active = new long[buckets];
    for (RequestResult r : results) {
      if (!r.success()) {
        continue;
      }
      long t = r.sendNanos() + r.ttftNanos();
      addToBucket(chunks, t - start);
      for (long gap : r.itlNanos()) {
        t += gap;
        addToBucket(chunks, t - start);
      }
      int first = (int) ((r.sendNanos() - start) / 1_000_000_000L);
      int last = (int) ((r.endNanos() - start) / 1_000_000_000L);
      for (int s = first; s <= last && s < buckets; s++) {
        active[s]++;
      }
    }
    return new long[] {
      Arrays.stream(chunks).max().orElse(0), Arrays.stream(active).max().orElse(0)
    };
  }

  private static void addToBucket(long[] buckets, long offsetNanos) {
    int bucket = (int) (offsetNanos / 1_000_000_000L);
    if (bucket >= 0 && bucket < buckets.length) {
      buckets[bucket]++;
    }
  }

  /** The statistics of one metric. */
  public LatencyStats stats(LatencyMetric metric) {
    return latency.get(metric);
  }

  /**
   * The result as vLLM's bench result JSON names it (keys in vLLM's order, latency in ms, raw
   * {@code ttfts}/{@code itls} in seconds), plus Baton's {@code failure_reasons}.
   *
   * @param detailed whether to include {@code generated_texts}
   */
  public Map<String, Object> toJson(boolean detailed) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("duration", durationS);
    json.put("completed", completed);
    json.put("failed", failed);
    json.put("total_input_tokens", totalInputTokens);
    json.put("total_output_tokens", totalOutputTokens);
    json.put("request_throughput", requestThroughput);
    json.put("request_goodput", goodput.isSet() ? requestGoodput : null);
    json.put("output_throughput", outputThroughput);
    json.put("total_token_throughput", totalTokenThroughput);
    json.put("max_output_tokens_per_s", maxOutputTokensPerS);
    json.put("max_concurrent_requests", maxConcurrentRequests);
    if (goodput.isSet()) {
      json.put("goodput", goodput.asMap());
    }
    for (LatencyMetric m : percentileMetrics) {
      LatencyStats s = latency.get(m);
      json.put("mean_" + m.key + "_ms", s.meanMs());
      json.put("median_" + m.key + "_ms", s.medianMs());
      json.put("std_" + m.key + "_ms", s.stdMs());
      for (int i = 0; i < percentiles.length; i++) {
        json.put(
            "p" + LatencyMetric.percentileWord(percentiles[i]) + "_" + m.key + "_ms",
            s.percentileMs()[i]);
      }
    }
    json.put("input_lens", inputLens);
    json.put("output_lens", outputLens);
    json.put("ttfts", Arrays.stream(ttftNanos).mapToDouble(v -> v / 1e9).toArray());
    json.put(
        "itls",
        itlNanos.stream()
            .map(gaps -> Arrays.stream(gaps).mapToDouble(v -> v / 1e9).toArray())
            .toList());
    if (detailed) {
      json.put("generated_texts", generatedTexts);
    }
    json.put("errors", errors);
    json.put("failure_reasons", failureReasons);
    return json;
  }

  /**
   * The terminal summary in the layout of {@code vllm bench serve}.
   *
   * @param maxConcurrency the configured limit, or null
   * @param requestRate the configured rate (infinite = all at once)
   */
  public String summaryTable(Integer maxConcurrency, double requestRate) {
    StringBuilder out = new StringBuilder();
    out.append(centered(" Serving Benchmark Result ", '=')).append('\n');
    row(out, "Successful requests:", Integer.toString(completed));
    row(out, "Failed requests:", Integer.toString(failed));
    if (maxConcurrency != null) {
      row(out, "Maximum request concurrency:", Integer.toString(maxConcurrency));
    }
    row(
        out,
        "Request rate configured (RPS):",
        Double.isInfinite(requestRate) ? "inf" : fixed(requestRate));
    row(out, "Benchmark duration (s):", fixed(durationS));
    row(out, "Total input tokens:", Long.toString(totalInputTokens));
    row(out, "Total generated tokens:", Long.toString(totalOutputTokens));
    row(out, "Request throughput (req/s):", fixed(requestThroughput));
    if (goodput.isSet()) {
      row(out, "Request goodput (req/s):", fixed(requestGoodput));
    }
    row(out, "Output token throughput (tok/s):", fixed(outputThroughput));
    row(out, "Peak output token throughput (tok/s):", fixed(maxOutputTokensPerS));
    row(out, "Peak concurrent requests:", Integer.toString(maxConcurrentRequests));
    row(out, "Total token throughput (tok/s):", fixed(totalTokenThroughput));
    for (LatencyMetric m : percentileMetrics) {
      LatencyStats s = latency.get(m);
      out.append(centered(m.title, '-')).append('\n');
      row(out, "Mean " + m.label + " (ms):", fixed(s.meanMs()));
      row(out, "Median " + m.label + " (ms):", fixed(s.medianMs()));
      for (int i = 0; i < percentiles.length; i++) {
        row(
            out,
            "P" + LatencyMetric.percentileWord(percentiles[i]) + " " + m.label + " (ms):",
            fixed(s.percentileMs()[i]));
      }
    }
    if (!failureReasons.isEmpty()) {
      out.append(centered("Failures", '-')).append('\n');
      failureReasons.forEach((reason, count) -> row(out, reason + ":", Integer.toString(count)));
    }
    out.append("=".repeat(50)).append('\n');
    return out.toString();
  }

  private static String fixed(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static void row(StringBuilder out, String name, String value) {
    out.append(String.format(Locale.ROOT, "%-40s %-10s", name, value).stripTrailing()).append('\n');
  }

  private static String centered(String title, char fill) {
    int width = 50;
    if (title.length() >= width) {
      return title;
    }
    int left = (width - title.length()) / 2;
    int right = width - title.length() - left;
    return String.valueOf(fill).repeat(left) + title + String.valueOf(fill).repeat(right);
  }
}
