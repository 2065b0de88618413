package dev.baton.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Side-by-side view of several benchmark outcomes of the same workload (one per cluster, from
 * {@code baton bench compare}): a terminal table with one column per cluster, and one JSON document
 * holding every run.
 */
public final class Comparison {

  private Comparison() {}

  /** Rows of headline metrics, one column per outcome (the first run of each). */
  public static String table(List<Bench.Outcome> outcomes) {
    List<String> names = new ArrayList<>();
    List<BenchmarkResult> results = new ArrayList<>();
    for (Bench.Outcome o : outcomes) {
      for (Bench.Run run : o.runs()) {
        String name = o.config().label() != null ? o.config().label() : "cluster";
        names.add(
            o.runs().size() > 1 ? name + "@" + BenchConfig.rateText(run.requestRate()) : name);
        results.add(run.result());
      }
    }
    StringBuilder out = new StringBuilder();
    int width = 14;
    for (String n : names) {
      width = Math.max(width, n.length() + 2);
    }
    String format = "%-34s" + ("%" + width + "s").repeat(names.size()) + "%n";
    out.append(String.format(Locale.ROOT, format, prepend("metric", names)));
    row(out, format, "completed / failed", results, r -> r.completed() + " / " + r.failed());
    row(out, format, "request throughput (req/s)", results, r -> f(r.requestThroughput()));
    row(out, format, "output throughput (tok/s)", results, r -> f(r.outputThroughput()));
    if (results.stream().anyMatch(r -> r.goodput().isSet())) {
      row(out, format, "goodput (req/s)", results, r -> f(r.requestGoodput()));
    }
    for (LatencyMetric m : LatencyMetric.values()) {
      row(out, format, "mean " + m.label + " (ms)", results, r -> f(r.stats(m).meanMs()));
      row(out, format, "median " + m.label + " (ms)", results, r -> f(r.stats(m).medianMs()));
      row(
          out,
          format,
          "p99 " + m.label + " (ms)",
          results,
          r -> f(LatencyStats.histogramOf(r.samplesNanos().get(m)).getValueAtPercentile(99) / 1e6));
    }
    return out.toString();
  }

  private static Object[] prepend(String first, List<String> rest) {
    Object[] all = new Object[rest.size() + 1];
    all[0] = first;
    for (int i = 0; i < rest.size(); i++) {
      all[i + 1] = rest.get(i);
    }
    return all;
  }

  private static void row(
      StringBuilder out,
      String format,
      String name,
      List<BenchmarkResult> results,
      java.util.function.Function<BenchmarkResult, String> cell) {
    List<String> cells = results.stream().map(cell).toList();
    out.append(String.format(Locale.ROOT, format, prepend(name, cells)));
  }

  private static String f(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
  }

  /** {"clusters": [{"label", "spec", "runs": [result JSON, ...]}, ...]}. */
  public static Map<String, Object> json(List<Bench.Outcome> outcomes, List<String> specs) {
    List<Object> clusters = new ArrayList<>();
    for (int i = 0; i < outcomes.size(); i++) {
      Bench.Outcome o = outcomes.get(i);
      Map<String, Object> cluster = new LinkedHashMap<>();
      cluster.put("label", o.config().label());
      cluster.put("spec", i < specs.size() ? specs.get(i) : null);
      cluster.put("runs", o.runs().stream().map(Bench.Run::json).toList());
      clusters.add(cluster);
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("clusters", clusters);
    return json;
  }
}
