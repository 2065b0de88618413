package dev.baton.bench;

import java.util.List;

/**
 * One benchmark invocation: where to send, what, how fast, and what to report.
 *
 * @param tokenizer a GGUF file path, "server" ({@code /tokenize}), "words", or null to use the
 *     server's {@code /tokenize} when it answers and words otherwise
 * @param sweepRates request rates for {@code --sweep}; empty for a single run at {@code
 *     load.requestRate()}
 * @param label a name for the run in results and reports
 */
public record BenchConfig(
    EndpointConfig endpoint,
    DatasetConfig dataset,
    LoadConfig load,
    MetricsConfig metrics,
    String tokenizer,
    List<Double> sweepRates,
    String label) {

  public BenchConfig {
    sweepRates = List.copyOf(sweepRates);
    for (double r : sweepRates) {
      if (!(r > 0)) {
        throw new IllegalArgumentException("--sweep rates must be > 0 (or inf)");
      }
    }
  }

  public BenchConfig withEndpoint(EndpointConfig e) {
    return new BenchConfig(e, dataset, load, metrics, tokenizer, sweepRates, label);
  }

  public BenchConfig withLoad(LoadConfig l) {
    return new BenchConfig(endpoint, dataset, l, metrics, tokenizer, sweepRates, label);
  }

  public BenchConfig withDataset(DatasetConfig d) {
    return new BenchConfig(endpoint, d, load, metrics, tokenizer, sweepRates, label);
  }

  public BenchConfig withTokenizer(String t) {
    return new BenchConfig(endpoint, dataset, load, metrics, t, sweepRates, label);
  }

  public BenchConfig withLabel(String l) {
    return new BenchConfig(endpoint, dataset, load, metrics, tokenizer, sweepRates, l);
  }

  /** Formats a rate as vLLM writes it ("inf" for all at once). */
  public static String rateText(double rate) {
    if (Double.isInfinite(rate)) {
      return "inf";
    }
    return rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate);
  }

  /** Parses a rate: a positive number or "inf". */
  public static double parseRate(String text) {
    String t = text.trim().toLowerCase(java.util.Locale.ROOT);
    if (t.equals("inf") || t.equals("infinity")) {
      return Double.POSITIVE_INFINITY;
    }
    try {
      double r = Double.parseDouble(t);
      if (!(r > 0)) {
        throw new IllegalArgumentException("request rate must be > 0 or inf, got " + text);
      }
      return r;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("request rate must be a number or inf, got " + text, e);
    }
  }
}
