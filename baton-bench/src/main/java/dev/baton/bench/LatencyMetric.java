package dev.baton.bench;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The latency metrics {@code --percentile-metrics} can select, named as vLLM names them. */
public enum LatencyMetric {
  TTFT("ttft", "TTFT", "Time to First Token"),
  TPOT("tpot", "TPOT", "Time per Output Token (excl. 1st token)"),
  ITL("itl", "ITL", "Inter-token Latency"),
  E2EL("e2el", "E2EL", "End-to-end Latency");

  /** The key used in result JSON ({@code mean_ttft_ms}) and on the command line. */
  public final String key;

  /** The short name in the summary table. */
  public final String label;

  /** The section heading in the summary table. */
  public final String title;

  LatencyMetric(String key, String label, String title) {
    this.key = key;
    this.label = label;
    this.title = title;
  }

  /** Parses {@code "ttft,tpot,itl"} (order kept, duplicates dropped). */
  public static List<LatencyMetric> parseList(String text) {
    Set<LatencyMetric> out = new LinkedHashSet<>();
    for (String part : text.split(",")) {
      String name = part.trim().toLowerCase(Locale.ROOT);
      if (name.isEmpty()) {
        continue;
      }
      LatencyMetric found = null;
      for (LatencyMetric m : values()) {
        if (m.key.equals(name)) {
          found = m;
        }
      }
      if (found == null) {
        throw new IllegalArgumentException(
            "--percentile-metrics: unknown metric '" + part.trim() + "' (ttft, tpot, itl, e2el)");
      }
      out.add(found);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--percentile-metrics needs at least one metric");
    }
    return new ArrayList<>(out);
  }

  /** Parses {@code "50,90,99"}; every value must lie in (0, 100]. */
  public static double[] parsePercentiles(String text) {
    List<Double> values = new ArrayList<>();
    for (String part : text.split(",")) {
      String trimmed = part.trim();
      if (trimmed.isEmpty()) {
        continue;
      }
      double p;
      try {
        p = Double.parseDouble(trimmed);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--metric-percentiles: '" + trimmed + "' is no number", e);
      }
      if (!(p > 0 && p <= 100)) {
        throw new IllegalArgumentException(
            "--metric-percentiles: " + trimmed + " is outside (0, 100]");
      }
      values.add(p);
    }
    if (values.isEmpty()) {
      throw new IllegalArgumentException("--metric-percentiles needs at least one percentile");
    }
    return values.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** vLLM's spelling of a percentile in keys: 99 → "99", 99.9 → "99.9". */
  public static String percentileWord(double p) {
    return p == Math.rint(p) ? Long.toString((long) p) : Double.toString(p);
  }
}
