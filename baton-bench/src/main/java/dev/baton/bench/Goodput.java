package dev.baton.bench;

import java.util.List;
import java.util.Locale;

/**
 * Service-level objectives for goodput, as {@code --goodput ttft:MS tpot:MS e2el:MS} states them: a
 * request is good when it meets every objective given. Absent objectives are {@code NaN}.
 */
public record Goodput(double ttftMs, double tpotMs, double e2elMs) {

  public static final Goodput NONE = new Goodput(Double.NaN, Double.NaN, Double.NaN);

  /** Whether any objective is set (vLLM reports request_goodput only then). */
  public boolean isSet() {
    return !Double.isNaN(ttftMs) || !Double.isNaN(tpotMs) || !Double.isNaN(e2elMs);
  }

  /**
   * Parses {@code ["ttft:500", "tpot:50"]}; also accepts several pairs in one string separated by
   * spaces or commas.
   */
  public static Goodput parse(List<String> specs) {
    double ttft = Double.NaN;
    double tpot = Double.NaN;
    double e2el = Double.NaN;
    for (String spec : specs) {
      for (String pair : spec.trim().split("[\\s,]+")) {
        if (pair.isEmpty()) {
          continue;
        }
        int colon = pair.indexOf(':');
        if (colon < 0) {
          throw new IllegalArgumentException(
              "--goodput expects NAME:MILLISECONDS (ttft, tpot or e2el), got '" + pair + "'");
        }
        String name = pair.substring(0, colon).toLowerCase(Locale.ROOT);
        double value;
        try {
          value = Double.parseDouble(pair.substring(colon + 1));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("--goodput: '" + pair + "' has no number of ms", e);
        }
        if (!(value >= 0) || Double.isInfinite(value)) {
          throw new IllegalArgumentException("--goodput: '" + pair + "' must be >= 0 ms");
        }
        switch (name) {
          case "ttft" -> ttft = value;
          case "tpot" -> tpot = value;
          case "e2el" -> e2el = value;
          default ->
              throw new IllegalArgumentException(
                  "--goodput: unknown metric '" + name + "' (use ttft, tpot or e2el)");
        }
      }
    }
    return new Goodput(ttft, tpot, e2el);
  }

  /**
   * Whether one request meets every objective. {@code tpotMs} is 0 for requests with at most one
   * output token, as vLLM counts them for goodput.
   */
  public boolean isGood(double requestTtftMs, double requestTpotMs, double requestE2elMs) {
    return (Double.isNaN(ttftMs) || requestTtftMs <= ttftMs)
        && (Double.isNaN(tpotMs) || requestTpotMs <= tpotMs)
        && (Double.isNaN(e2elMs) || requestE2elMs <= e2elMs);
  }

  /** The objectives as vLLM's result JSON writes them ({@code {"ttft": 500.0}}). */
  public java.util.Map<String, Double> asMap() {
    var map = new java.util.LinkedHashMap<String, Double>();
    if (!Double.isNaN(ttftMs)) {
      map.put("ttft", ttftMs);
    }
    if (!Double.isNaN(tpotMs)) {
      map.put("tpot", tpotMs);
    }
    if (!Double.isNaN(e2elMs)) {
      map.put("e2el", e2elMs);
    }
    return map;
  }
}
