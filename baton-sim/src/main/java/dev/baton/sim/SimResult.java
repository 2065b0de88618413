package dev.baton.sim;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Per-request times of one simulated run (ms from the start) and their summary. */
public final class SimResult {

  private final double[] ttftMs;
  private final double[] tpotMs;
  private final double[] requestTpotMs;
  private final double[] waitMs;
  private final int[] outputLens;
  private final double durationMs;
  private final int completed;

  SimResult(
      double[] arrival,
      int[] prompt,
      int[] output,
      double[] prefillStart,
      double[] firstToken,
      double[] finish) {
    int n = arrival.length;
    outputLens = output.clone();
    ttftMs = new double[n];
    waitMs = new double[n];
    double[] tpot = new double[n];
    requestTpotMs = new double[n];
    int multi = 0;
    double last = 0;
    for (int r = 0; r < n; r++) {
      ttftMs[r] = firstToken[r] - arrival[r];
      waitMs[r] = prefillStart[r] - arrival[r];
      requestTpotMs[r] = Double.NaN;
      if (output[r] > 1) {
        requestTpotMs[r] = (finish[r] - firstToken[r]) / (output[r] - 1);
        tpot[multi++] = requestTpotMs[r];
      }
      last = Math.max(last, finish[r]);
    }
    tpotMs = Arrays.copyOf(tpot, multi);
    durationMs = last - arrival[0];
    completed = n;
  }

  /** Mean time from arrival to the start of the request's prefill (queueing only). */
  public double meanWaitMs() {
    return Arrays.stream(waitMs).average().orElse(Double.NaN);
  }

  public double meanTtftMs() {
    return Arrays.stream(ttftMs).average().orElse(Double.NaN);
  }

  public double meanTpotMs() {
    return Arrays.stream(tpotMs).average().orElse(Double.NaN);
  }

  public double ttftPercentileMs(double p) {
    return percentile(ttftMs, p);
  }

  public double tpotPercentileMs(double p) {
    return percentile(tpotMs, p);
  }

  /** Request {@code r}'s time to first token (its index in the trace). */
  public double ttftMs(int r) {
    return ttftMs[r];
  }

  /** Request {@code r}'s time per output token after the first; NaN for a one-token request. */
  public double tpotMs(int r) {
    return requestTpotMs[r];
  }

  public int completed() {
    return completed;
  }

  public double durationMs() {
    return durationMs;
  }

  /** Requests per second that met both SLOs (a one-token request counts with TPOT 0). */
  public double goodput(double ttftSloMs, double tpotSloMs) {
    int good = 0;
    int t = 0;
    for (int r = 0; r < ttftMs.length; r++) {
      double tpot = outputLens[r] > 1 ? tpotMs[t++] : 0;
      if (ttftMs[r] <= ttftSloMs && tpot <= tpotSloMs) {
        good++;
      }
    }
    return good / (durationMs / 1000);
  }

  /** Nearest-rank percentile, as the benchmark's histograms report it. */
  static double percentile(double[] values, double p) {
    if (values.length == 0) {
      return Double.NaN;
    }
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(p / 100 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /** The summary with vLLM bench key names. */
  public Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("completed", completed);
    json.put("failed", 0);
    json.put("duration", durationMs / 1000);
    json.put("request_throughput", completed / (durationMs / 1000));
    json.put("mean_ttft_ms", meanTtftMs());
    json.put("median_ttft_ms", ttftPercentileMs(50));
    json.put("p99_ttft_ms", ttftPercentileMs(99));
    json.put("mean_tpot_ms", meanTpotMs());
    json.put("median_tpot_ms", tpotPercentileMs(50));
    json.put("p99_tpot_ms", tpotPercentileMs(99));
    return json;
  }
}
