package dev.baton.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A parsed Prometheus text exposition (what {@code /metrics} returns): samples by name and labels,
 * with helpers for the sums and histograms the control plane reads. Malformed lines are skipped
 * rather than failing the whole scrape.
 */
public final class PrometheusText {

  /** One sample line: metric name, labels, value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;

  private PrometheusText(List<Sample> samples) {
    this.samples = List.copyOf(samples);
  }

  public static PrometheusText parse(String text) {
    List<Sample> out = new ArrayList<>();
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Sample sample = parseLine(line);
      if (sample != null) {
        out.add(sample);
      }
    }
    return new PrometheusText(out);
  }

  public List<Sample> samples() {
    return samples;
  }

  /** Whether any sample has this name. */
  public boolean has(String name) {
    return samples.stream().anyMatch(s -> s.name().equals(name));
  }

  /** Sum of every sample with this name (over all label sets); 0 when absent. */
  public double sum(String name) {
    double total = 0;
    for (Sample s : samples) {
      if (s.name().equals(name)) {
        total += s.value();
      }
    }
    return total;
  }

  /** The first sample's value among {@code names} that exists, else {@code fallback}. */
  public double firstOf(double fallback, String... names) {
    for (String name : names) {
      if (has(name)) {
        return sum(name);
      }
    }
    return fallback;
  }

  /**
   * A histogram's cumulative bucket counts by upper bound (summed over label sets), read from
   * {@code name_bucket{le=...}}; empty when absent.
   */
  public Histogram histogram(String name) {
    TreeMap<Double, Double> buckets = new TreeMap<>();
    for (Sample s : samples) {
      if (s.name().equals(name + "_bucket") && s.labels().containsKey("le")) {
        double le = parseValue(s.labels().get("le"));
        buckets.merge(le, s.value(), Double::sum);
      }
    }
    return new Histogram(buckets);
  }

  /** Cumulative histogram buckets; subtract two scrapes to get the window between them. */
  public record Histogram(TreeMap<Double, Double> cumulative) {

    public double count() {
      return cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
    }

    /** This histogram minus an earlier scrape of it (counts observed in between). */
    public Histogram minus(Histogram earlier) {
      TreeMap<Double, Double> diff = new TreeMap<>();
      for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
        double before = earlier.cumulative.getOrDefault(e.getKey(), 0.0);
        // A restarted worker resets its counters: then the new scrape is the whole window.
        diff.put(e.getKey(), e.getValue() >= before ? e.getValue() - before : e.getValue());
      }
      return new Histogram(diff);
    }

    /** Adds another histogram's counts (buckets of several workers); bounds are unioned. */
    public Histogram plus(Histogram other) {
      TreeMap<Double, Double> sum = new TreeMap<>(cumulative);
      other.cumulative.forEach((k, v) -> sum.merge(k, v, Double::sum));
      return new Histogram(sum);
    }

    /**
     * The q-quantile by linear interpolation inside the bucket that holds it (as Prometheus'
     * histogram_quantile does); {@code null} when the histogram is empty.
     */
    public Double quantile(double q) {
      double total = count();
      if (total <= 0) {
        return null;
      }
      double rank = q * total;
      double prevBound = 0;
      double prevCount = 0;
      for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
        if (e.getValue() >= rank) {
          if (e.getKey().isInfinite()) {
            return prevBound;
          }
          double inBucket = e.getValue() - prevCount;
          double fraction = inBucket <= 0 ? 1 : (rank - prevCount) / inBucket;
          return prevBound + (e.getKey() - prevBound) * fraction;
        }
        prevBound = e.getKey();
        prevCount = e.getValue();
      }
      return prevBound;
    }
  }

  private static Sample parseLine(String line) {
    int brace = line.indexOf('{');
    int space = line.indexOf(' ');
    if (space < 0) {
      return null;
    }
    String name;
    Map<String, String> labels = new LinkedHashMap<>();
    String rest;
    if (brace >= 0 && brace < space) {
      name = line.substring(0, brace);
      int close = findLabelsEnd(line, brace + 1);
      if (close < 0) {
        return null;
      }
      parseLabels(line.substring(brace + 1, close), labels);
      rest = line.substring(close + 1).strip();
    } else {
      name = line.substring(0, space);
      rest = line.substring(space + 1).strip();
    }
    String valueText = rest.split("\\s+")[0];
    try {
      return new Sample(name, labels, parseValue(valueText));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static int findLabelsEnd(String line, int from) {
    boolean inQuotes = false;
    for (int i = from; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\\' && inQuotes) {
        i++;
      } else if (c == '"') {
        inQuotes = !inQuotes;
      } else if (c == '}' && !inQuotes) {
        return i;
      }
    }
    return -1;
  }

  private static void parseLabels(String text, Map<String, String> labels) {
    int i = 0;
    while (i < text.length()) {
      int eq = text.indexOf('=', i);
      if (eq < 0) {
        return;
      }
      String key = text.substring(i, eq).strip();
      if (key.startsWith(",")) {
        key = key.substring(1).strip();
      }
      int start = text.indexOf('"', eq);
      if (start < 0) {
        return;
      }
      StringBuilder value = new StringBuilder();
      int j = start + 1;
      for (; j < text.length(); j++) {
        char c = text.charAt(j);
        if (c == '\\' && j + 1 < text.length()) {
          char n = text.charAt(++j);
          value.append(n == 'n' ? '\n' : n);
        } else if (c == '"') {
          break;
        } else {
          value.append(c);
        }
      }
      labels.put(key, value.toString());
      i = j + 1;
      while (i < text.length() && (text.charAt(i) == ',' || text.charAt(i) == ' ')) {
        i++;
      }
    }
  }

  private static double parseValue(String text) {
    return switch (text) {
      case "+Inf", "Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> Double.parseDouble(text);
    };
  }
}
