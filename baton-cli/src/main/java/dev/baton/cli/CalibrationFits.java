package dev.baton.cli;

import dev.baton.core.PrometheusText;
import java.net.URI;
import java.util.Arrays;
import java.util.List;

/**
 * The arithmetic of {@code baton sim calibrate}: lines through measured points, interference
 * ratios, the decode jitter series and the numbers read from a worker's metrics. Pure functions of
 * what {@link SimCalibrateCommand} measured, so each is tested on its own.
 */
final class CalibrationFits {

  private CalibrationFits() {}

  /**
   * {base ms, ms per token} of the prefill line from three {tokens, ms} points (1/2x, 1x, 3/2x the
   * workload's length): the chord's slope through the 1x point, or the line through the origin and
   * the 1x point when that would need a negative base.
   */
  static double[] prefillLine(double[] shorter, double[] at, double[] longer) {
    double perToken = (longer[1] - shorter[1]) / (longer[0] - shorter[0]);
    double base = at[1] - perToken * at[0];
    if (base < 0 || !(perToken > 0)) {
      return new double[] {0, at[1] / at[0]};
    }
    return new double[] {base, perToken};
  }

  /**
   * {base ms, ms per sequence, ms per context token} of the decode step from three {batch, ms,
   * context tokens} points: one sequence with a short and one with a long context, and a batch.
   */
  static double[] decodeLine(double[] alone, double[] aloneLong, double[] many) {
    double perContext =
        Math.max(0, (aloneLong[1] - alone[1]) / Math.max(1, aloneLong[2] - alone[2]));
    double perSeq =
        Math.max(
            0, (many[1] - alone[1] - perContext * (many[2] - alone[2])) / (many[0] - alone[0]));
    double base = Math.max(0, alone[1] - perSeq - perContext * alone[2]);
    return new double[] {base, perSeq, perContext};
  }

  /**
   * {base ms, ms per token} of the KV hop (and first-token relay) from the TTFT through the gateway
   * and straight at the prefill worker, each {tokens, ms} at 1/2x, 1x and 3/2x the workload's
   * length: the differences' chord slope through the 1x difference, as the prefill line, never
   * below 0.
   */
  static double[] hopLine(
      double[] viaShort,
      double[] viaAt,
      double[] viaLong,
      double[] ownShort,
      double[] ownAt,
      double[] ownLong) {
    double[] shorter = {viaShort[0], viaShort[1] - ownShort[1]};
    double[] at = {viaAt[0], viaAt[1] - ownAt[1]};
    double[] longer = {viaLong[0], viaLong[1] - ownLong[1]};
    if (!(at[1] > 0)) {
      return new double[] {0, 0};
    }
    return prefillLine(shorter, at, longer);
  }

  /** How much longer work took beside a busy worker than alone, as a fraction (never below 0). */
  static double interference(double besideBusyMs, double aloneMs) {
    return Math.max(0, besideBusyMs / aloneMs - 1);
  }

  /** The series to 1 µs (the model file holds a few thousand of them). */
  static double[] rounded(List<Double> series) {
    double[] out = new double[series.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.round(series.get(i) * 1000) / 1000.0;
    }
    return out;
  }

  /**
   * The {@code p}th percentile, over every run of {@code steps} consecutive values of a jitter
   * series, of the run's mean jitter as a fraction of {@code stepMs}: how much slower than the mean
   * a request decoding {@code steps} steps alone would be at that percentile (0 for no series).
   */
  static double runSpread(List<Double> series, int steps, double p, double stepMs) {
    int runs = series.size() - steps + 1;
    if (runs < 1 || steps < 1) {
      return 0;
    }
    double[] means = new double[runs];
    double sum = 0;
    for (int i = 0; i < series.size(); i++) {
      sum += series.get(i);
      if (i >= steps) {
        sum -= series.get(i - steps);
      }
      if (i >= steps - 1) {
        means[i - steps + 1] = sum / steps / stepMs;
      }
    }
    Arrays.sort(means);
    int rank = (int) Math.ceil(p / 100 * runs); // nearest rank, as the bench's percentiles
    return means[Math.max(0, Math.min(runs, rank) - 1)];
  }

  private static final String STEP_SECONDS_SUM = "baton_engine_step_seconds_sum";

  /** The {@code baton_engine_step_seconds_sum} sample of a worker's Prometheus text. */
  static double stepSecondsSumOf(String metrics, URI worker) {
    PrometheusText text = PrometheusText.parse(metrics);
    if (text.has(STEP_SECONDS_SUM)) {
      return text.sum(STEP_SECONDS_SUM);
    }
    throw new IllegalStateException(
        worker
            + "/metrics has no baton_engine_step_seconds_sum: --prefill-url must name a Baton"
            + " prefill worker");
  }

  /**
   * The KV capacity in tokens a worker's Prometheus text gives: {@code num_gpu_blocks} x {@code
   * block_size} from vLLM's {@code vllm:cache_config_info} (Baton workers export it too); 0 when
   * the text has no such sample or its labels are not numbers (vLLM before its KV profiling
   * finished prints {@code num_gpu_blocks="None"}).
   */
  static long kvCapacityOf(String metrics) {
    for (PrometheusText.Sample s : PrometheusText.parse(metrics).samples()) {
      if (s.name().equals("vllm:cache_config_info")) {
        try {
          return Long.parseLong(s.labels().getOrDefault("num_gpu_blocks", ""))
              * Long.parseLong(s.labels().getOrDefault("block_size", ""));
        } catch (NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }

  /**
   * How many of a single stream's first gaps to leave out of its step and jitter: the first {@link
   * #BURST_GAPS} when the stream is long enough. Single 256-token streams reached the client with
   * their first ~25 tokens in one burst (the time they took went into the TTFT), where the bench's
   * 64-token streams mostly did not: kept, they made the mean step ~10% short and put a run of -1.2
   * ms values at the start of every sample of the jitter series.
   */
  static int settledFrom(long[] gaps) {
    return gaps.length >= 4 * BURST_GAPS ? BURST_GAPS : 0;
  }

  static final int BURST_GAPS = 32;

  /** Each gap's difference from the gaps' mean, in ms, in the order the tokens came. */
  static void addJitter(long[] gapsNanos, List<Double> jitter) {
    if (gapsNanos.length == 0) {
      return;
    }
    double mean = Arrays.stream(gapsNanos).average().orElse(0) / 1e6;
    for (long gap : gapsNanos) {
      jitter.add(gap / 1e6 - mean);
    }
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
