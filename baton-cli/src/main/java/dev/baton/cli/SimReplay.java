package dev.baton.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.bench.Arrivals;
import dev.baton.core.Json;
import dev.baton.sim.SimResult;
import dev.baton.sim.SimTrace;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The sim-vs-real check: a {@code baton bench --save-result --save-detailed} file gives the real
 * run's requests (its arrival schedule, redrawn from the saved rate, burstiness and seed exactly as
 * the benchmark drew it, and the saved per-request prompt and output lengths) and its measured
 * percentiles; the simulator serves the same requests and the two are printed side by side.
 */
final class SimReplay {

  /** The metrics compared: the bench JSON key, and the simulated value's percentile and kind. */
  private record Metric(String key, String label, double percentile, boolean ttft) {}

  static final List<Metric> METRICS =
      List.of(
          new Metric("median_ttft_ms", "p50 TTFT (ms)", 50, true),
          new Metric("p99_ttft_ms", "p99 TTFT (ms)", 99, true),
          new Metric("median_tpot_ms", "p50 TPOT (ms)", 50, false),
          new Metric("p99_tpot_ms", "p99 TPOT (ms)", 99, false));

  private final Path file;
  private final JsonNode bench;

  SimReplay(Path file) throws IOException {
    this.file = file;
    this.bench = Json.parse(Files.readString(file));
    for (String key : List.of("input_lens", "output_lens", "request_rate", "seed")) {
      if (!bench.has(key)) {
        throw new IllegalArgumentException(
            file
                + " has no '"
                + key
                + "': replay needs a result written by baton bench --save-result"
                + " --save-detailed");
      }
    }
  }

  /** The benchmark's requests: its arrival schedule and the lengths each request really had. */
  SimTrace trace() {
    JsonNode in = bench.get("input_lens");
    JsonNode out = bench.get("output_lens");
    int n = in.size();
    if (n == 0 || out.size() != n) {
      throw new IllegalArgumentException(file + ": input_lens and output_lens differ or are empty");
    }
    String rateText = bench.get("request_rate").asText();
    double rate = rateText.equals("inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(rateText);
    Arrivals arrivals =
        new Arrivals(rate, bench.path("burstiness").asDouble(1.0), bench.get("seed").asLong());
    double[] arrival = new double[n];
    int[] prompt = new int[n];
    int[] output = new int[n];
    long nanos = 0;
    for (int r = 0; r < n; r++) {
      if (r > 0) {
        nanos += arrivals.nextGapNanos();
      }
      arrival[r] = nanos / 1e6;
      prompt[r] = Math.max(1, in.get(r).asInt());
      // A failed request reports 0 output tokens; the simulator serves it as asked (one token).
      output[r] = Math.max(1, out.get(r).asInt());
    }
    return new SimTrace(arrival, prompt, output);
  }

  /**
   * Each request's real and simulated TTFT and TPOT beside its arrival and lengths, to see which
   * requests the model gets wrong (real TPOT as the benchmark computes it: the time after the first
   * token over the tokens after the first).
   */
  private List<Map<String, Object>> perRequest(SimResult sim) {
    SimTrace trace = trace();
    JsonNode ttfts = bench.path("ttfts");
    JsonNode itls = bench.path("itls");
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int r = 0; r < trace.requests(); r++) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("arrival_ms", trace.arrivalMs()[r]);
      row.put("input_len", trace.prompt()[r]);
      row.put("output_len", trace.output()[r]);
      row.put("real_ttft_ms", ttfts.path(r).asDouble(Double.NaN) * 1000);
      row.put("sim_ttft_ms", sim.ttftMs(r));
      double after = 0;
      for (JsonNode gap : itls.path(r)) {
        after += gap.asDouble();
      }
      int tokens = trace.output()[r];
      row.put("real_tpot_ms", tokens > 1 ? after * 1000 / (tokens - 1) : Double.NaN);
      row.put("sim_tpot_ms", sim.tpotMs(r));
      rows.add(row);
    }
    return rows;
  }

  /**
   * Prints real, simulated and their ratio per metric; returns them as JSON. {@code maxError} is
   * the allowed relative error; the returned map's {@code within} says whether every metric met it.
   */
  Map<String, Object> compare(SimResult sim, double maxError, PrintStream out) {
    out.printf(Locale.ROOT, "%-16s %10s %10s %10s%n", "", "real", "sim", "sim/real");
    Map<String, Object> json = new LinkedHashMap<>();
    boolean within = true;
    for (Metric m : METRICS) {
      double real = bench.path(m.key()).asDouble(Double.NaN);
      double simulated =
          m.ttft() ? sim.ttftPercentileMs(m.percentile()) : sim.tpotPercentileMs(m.percentile());
      double ratio = simulated / real;
      boolean ok = Math.abs(ratio - 1) <= maxError;
      within &= ok;
      out.printf(
          Locale.ROOT,
          "%-16s %10.2f %10.2f %10.2f%s%n",
          m.label(),
          real,
          simulated,
          ratio,
          ok ? "" : "  (off by more than " + Math.round(maxError * 100) + "%)");
      json.put(m.key(), Map.of("real", real, "sim", simulated, "ratio", ratio));
    }
    json.put("within", within);
    json.put("requests", perRequest(sim));
    out.printf(
        Locale.ROOT,
        "%s: every metric within %d%% of the real run: %s%n",
        file.getFileName(),
        Math.round(maxError * 100),
        within ? "yes" : "no");
    return json;
  }
}
