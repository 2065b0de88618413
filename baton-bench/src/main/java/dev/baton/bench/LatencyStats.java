package dev.baton.bench;

import org.HdrHistogram.Histogram;

/**
 * Summary of one latency metric over a run, in milliseconds: exact mean and (population) standard
 * deviation, median and percentiles from an HdrHistogram (3 significant digits, nearest rank).
 *
 * @param percentiles the requested percentiles (e.g. 90, 99)
 * @param percentileMs the value at each requested percentile
 */
public record LatencyStats(
    int count,
    double meanMs,
    double stdMs,
    double medianMs,
    double[] percentiles,
    double[] percentileMs) {

  /** Summarises nanosecond samples; an empty sample gives zeros, as vLLM reports it. */
  public static LatencyStats of(long[] nanos, double[] percentiles) {
    if (nanos.length == 0) {
      return new LatencyStats(0, 0, 0, 0, percentiles.clone(), new double[percentiles.length]);
    }
    Histogram histogram = histogramOf(nanos);
    double sum = 0;
    for (long v : nanos) {
      sum += v;
    }
    double mean = sum / nanos.length;
    double squares = 0;
    for (long v : nanos) {
      squares += (v - mean) * (v - mean);
    }
    double std = Math.sqrt(squares / nanos.length);
    double[] at = new double[percentiles.length];
    for (int i = 0; i < percentiles.length; i++) {
      at[i] = histogram.getValueAtPercentile(percentiles[i]) / 1e6;
    }
    return new LatencyStats(
        nanos.length,
        mean / 1e6,
        std / 1e6,
        histogram.getValueAtPercentile(50) / 1e6,
        percentiles.clone(),
        at);
  }

  /** An auto-resizing histogram (3 significant digits) holding the samples. */
  public static Histogram histogramOf(long[] nanos) {
    Histogram histogram = new Histogram(3);
    for (long v : nanos) {
      histogram.recordValue(Math.max(0, v));
    }
    return histogram;
  }

  /** The value at percentile {@code p} if it was requested, else NaN. */
  public double at(double p) {
    for (int i = 0; i < percentiles.length; i++) {
      if (percentiles[i] == p) {
        return percentileMs[i];
      }
    }
    return Double.NaN;
  }
}
