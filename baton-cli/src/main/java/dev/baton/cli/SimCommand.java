package dev.baton.cli;

import dev.baton.core.Json;
import dev.baton.sim.Fleet;
import dev.baton.sim.FleetSimulator;
import dev.baton.sim.SimResult;
import dev.baton.sim.SimTrace;
import dev.baton.sim.SimWorkload;
import dev.baton.sim.StepModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton sim}: simulates a P/D fleet serving a Poisson workload with a per-worker step-time
 * model and prints TTFT, TPOT and goodput; {@code --sweep-total N} tries every xPyD split of N
 * workers and N colocated workers and ranks them by goodput per worker.
 */
@Command(
    name = "sim",
    subcommands = SimCalibrateCommand.class,
    mixinStandardHelpOptions = true,
    description = {
      "Simulate a fleet (discrete events, step-time model): TTFT, TPOT and goodput per layout."
    })
public final class SimCommand implements Callable<Integer> {

  @Option(names = "--prefill", defaultValue = "1", description = "prefill workers")
  int prefill;

  @Option(names = "--decode", defaultValue = "1", description = "decode workers")
  int decode;

  @Option(names = "--colocated", defaultValue = "0", description = "colocated workers")
  int colocated;

  @Option(
      names = "--sweep-total",
      defaultValue = "0",
      description = "try every xPyD split of N workers and N colocated workers instead")
  int sweepTotal;

  @Option(names = "--request-rate", defaultValue = "1", description = "requests/s (Poisson)")
  double rate;

  @Option(names = "--num-prompts", defaultValue = "10000", description = "requests")
  int requests;

  @Option(names = "--random-input-len", defaultValue = "1024", description = "mean prompt tokens")
  int inputLen;

  @Option(names = "--random-output-len", defaultValue = "128", description = "mean output tokens")
  int outputLen;

  @Option(
      names = "--lengths",
      defaultValue = "exponential",
      description = "fixed or exponential lengths around the means (default ${DEFAULT-VALUE})")
  String lengths;

  @Option(
      names = "--step-model",
      paramLabel = "FILE",
      description = "step-time model JSON (StepModel fields); default: the built-in example")
  Path stepModel;

  @Option(names = "--slo-ttft-ms", defaultValue = "2000", description = "TTFT SLO for goodput")
  double sloTtftMs;

  @Option(names = "--slo-tpot-ms", defaultValue = "50", description = "TPOT SLO for goodput")
  double sloTpotMs;

  @Option(names = "--seed", defaultValue = "0", description = "arrivals and lengths")
  long seed;

  @Option(
      names = "--routing-policy",
      defaultValue = FleetSimulator.DEFAULT_POLICY,
      description =
          "the gateway routing policy each pool uses (the gateway's own classes; prefix-cache is"
              + " refused: the simulated requests have no prompt text; pd's prefix term is the"
              + " same for every worker); default ${DEFAULT-VALUE}")
  String policy;

  @Option(
      names = "--scrape-interval-ms",
      defaultValue = "1000",
      description =
          "how often the gateway scrapes workers' load, as its scrape_interval_ms: policies see a"
              + " worker's load as of the last scrape where it exceeds the gateway's own count"
              + " (0: own counts only; default ${DEFAULT-VALUE})")
  double scrapeIntervalMs;

  @Option(names = "--json", paramLabel = "FILE", description = "write the results as JSON")
  Path json;

  @Option(
      names = "--chart",
      paramLabel = "FILE.png",
      description = "draw goodput per worker per layout as a PNG bar chart")
  Path chart;

  /**
   * An example model, roughly the {@code small} random preset on one thread of the 2-core
   * development machine; not a calibration (see docs/PERFORMANCE.md).
   */
  static final StepModel EXAMPLE = new StepModel(2, 0.25, 3, 0.4, 0, 3, 0.005, 512, 16);

  @Option(
      names = "--groups",
      defaultValue = "1",
      description = "replica mode: the P/D workers form this many equal xPyD groups (1: pool mode)")
  int groups;

  @Option(
      names = "--compare-modes",
      description =
          "pool vs replica mode: the same workers as --groups groups and as one pool, side by side")
  boolean compareModes;

  @Option(
      names = "--disaggregation-threshold",
      defaultValue = "0",
      description =
          "prompts shorter than this many tokens run on a decode worker, not disaggregated"
              + " (the gateway's disaggregation_threshold; 0: never)")
  int threshold;

  @Option(
      names = "--threshold-sweep",
      split = ",",
      paramLabel = "TOKENS",
      description = "try each conditional-disaggregation threshold (e.g. 0,128,256,512,1024)")
  List<Integer> thresholdSweep;

  @Option(
      names = "--replay",
      paramLabel = "BENCH.json",
      description =
          "serve a real run's requests (baton bench --save-result --save-detailed) and print the"
              + " simulated vs the measured percentiles")
  Path replay;

  @Option(
      names = "--max-error",
      defaultValue = "0.2",
      description = "with --replay: exit 1 when a percentile is off by more (default 0.2 = 20%)")
  double maxError;

  /** One simulated setting: a fleet and its conditional-disaggregation threshold. */
  private record Case(String name, Fleet fleet, int threshold) {}

  @Override
  public Integer call() throws IOException {
    StepModel model =
        stepModel == null
            ? EXAMPLE
            : Json.MAPPER.readValue(Files.readString(stepModel), StepModel.class);
    if (replay != null) {
      return replay(model);
    }
    SimTrace trace =
        new SimWorkload(
                rate,
                requests,
                inputLen,
                outputLen,
                SimWorkload.Lengths.valueOf(lengths.toUpperCase(Locale.ROOT)),
                seed)
            .trace();
    List<Case> cases = cases();
    Map<String, Object> out = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    List<Double> perWorker = new ArrayList<>();
    System.out.printf(
        Locale.ROOT,
        "%-24s %10s %10s %10s %10s %12s %14s%n",
        "fleet",
        "p50 TTFT",
        "p99 TTFT",
        "p50 TPOT",
        "p99 TPOT",
        "goodput/s",
        "goodput/worker");
    Case best = null;
    double bestPerWorker = -1;
    for (Case c : cases) {
      SimResult r =
          new FleetSimulator(
                  c.fleet(),
                  model,
                  trace,
                  new FleetSimulator.Routing(policy, c.threshold(), seed, scrapeIntervalMs))
              .run();
      double goodput = r.goodput(sloTtftMs, sloTpotMs);
      double share = goodput / c.fleet().workers();
      System.out.printf(
          Locale.ROOT,
          "%-24s %10.1f %10.1f %10.2f %10.2f %12.2f %14.3f%n",
          c.name(),
          r.ttftPercentileMs(50),
          r.ttftPercentileMs(99),
          r.tpotPercentileMs(50),
          r.tpotPercentileMs(99),
          goodput,
          share);
      Map<String, Object> entry = new LinkedHashMap<>(r.toJson());
      entry.put("request_goodput", goodput);
      entry.put("goodput_per_worker", share);
      out.put(c.name(), entry);
      names.add(c.name());
      perWorker.add(share);
      if (share > bestPerWorker) {
        best = c;
        bestPerWorker = share;
      }
    }
    System.out.printf(
        Locale.ROOT,
        "(times in ms; goodput: requests/s with TTFT <= %.0f ms and TPOT <= %.0f ms)%n",
        sloTtftMs,
        sloTpotMs);
    if (cases.size() > 1) {
      System.out.printf(
          Locale.ROOT,
          "best for this workload and SLO: %s (%.3f good requests/s per worker)%n",
          best.name(),
          bestPerWorker);
    }
    if (chart != null) {
      drawChart(names, perWorker);
    }
    if (json != null) {
      Files.writeString(json, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(out));
    }
    return 0;
  }

  /** The settings the options ask about: one fleet, an xPyD sweep, modes or thresholds. */
  private List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    if (sweepTotal > 0) {
      if (sweepTotal < 2) {
        throw new IllegalArgumentException("--sweep-total must be >= 2");
      }
      for (int p = 1; p < sweepTotal; p++) {
        Fleet f = new Fleet(p, sweepTotal - p, 0);
        cases.add(new Case(f.name(), f, threshold));
      }
      Fleet all = new Fleet(0, 0, sweepTotal);
      cases.add(new Case(all.name(), all, 0));
      return cases;
    }
    Fleet fleet = new Fleet(prefill, decode, colocated, groups);
    if (compareModes) {
      if (groups < 2) {
        throw new IllegalArgumentException("--compare-modes needs --groups >= 2");
      }
      Fleet pool = new Fleet(prefill, decode, colocated, 1);
      cases.add(new Case("pool " + pool.name(), pool, threshold));
      cases.add(new Case("replica " + fleet.name(), fleet, threshold));
      return cases;
    }
    if (thresholdSweep != null && !thresholdSweep.isEmpty()) {
      if (!fleet.disaggregated()) {
        throw new IllegalArgumentException("--threshold-sweep needs prefill and decode workers");
      }
      for (int t : thresholdSweep) {
        cases.add(new Case(fleet.name() + " threshold " + t, fleet, t));
      }
      return cases;
    }
    cases.add(new Case(fleet.name(), fleet, threshold));
    return cases;
  }

  private int replay(StepModel model) throws IOException {
    SimReplay real = new SimReplay(replay);
    Fleet fleet = new Fleet(prefill, decode, colocated, groups);
    SimTrace trace = real.trace();
    System.out.printf(
        Locale.ROOT, "replaying %d requests of %s on %s%n", trace.requests(), replay, fleet.name());
    SimResult r =
        new FleetSimulator(
                fleet,
                model,
                trace,
                new FleetSimulator.Routing(policy, threshold, seed, scrapeIntervalMs))
            .run();
    Map<String, Object> result = real.compare(r, maxError, System.out);
    if (json != null) {
      Files.writeString(
          json, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(result));
    }
    return Boolean.TRUE.equals(result.get("within")) ? 0 : 1;
  }

  private void drawChart(List<String> names, List<Double> perWorker) throws IOException {
    CategoryChart c =
        new CategoryChartBuilder()
            .width(900)
            .height(500)
            .title(
                String.format(
                    Locale.ROOT,
                    "Simulated layouts at %.2f req/s (%d in / %d out tokens)",
                    rate,
                    inputLen,
                    outputLen))
            .xAxisTitle("layout")
            .yAxisTitle("goodput per worker (req/s)")
            .build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    c.getStyler().setYAxisDecimalPattern("0.###");
    c.addSeries(
        String.format(
            Locale.ROOT,
            "goodput per worker (TTFT <= %.0f ms, TPOT <= %.0f ms)",
            sloTtftMs,
            sloTpotMs),
        names,
        perWorker);
    try {
      BitmapEncoder.saveBitmap(c, chart.toString(), BitmapEncoder.BitmapFormat.PNG);
    } catch (RuntimeException | LinkageError | InternalError e) {
      // No fonts (headless without fontconfig): the table and JSON above are the result.
      Files.deleteIfExists(chart);
      System.out.println("chart not drawn (" + e.getMessage() + "); the table above is the result");
    }
  }
}
