package dev.baton.cli;

import dev.baton.core.Json;
import dev.baton.sim.Fleet;
import dev.baton.sim.FleetSimulator;
import dev.baton.sim.SimResult;
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
              + " refused: the simulated requests have no prompt text); default ${DEFAULT-VALUE}")
  String policy;

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
  static final StepModel EXAMPLE = new StepModel(2, 0.25, 3, 0.4, 3, 0.005, 512, 16);

  @Override
  public Integer call() throws IOException {
    StepModel model =
        stepModel == null
            ? EXAMPLE
            : Json.MAPPER.readValue(Files.readString(stepModel), StepModel.class);
    SimWorkload workload =
        new SimWorkload(
            rate,
            requests,
            inputLen,
            outputLen,
            SimWorkload.Lengths.valueOf(lengths.toUpperCase(Locale.ROOT)),
            seed);
    List<Fleet> fleets = new ArrayList<>();
    if (sweepTotal > 0) {
      if (sweepTotal < 2) {
        throw new IllegalArgumentException("--sweep-total must be >= 2");
      }
      for (int p = 1; p < sweepTotal; p++) {
        fleets.add(new Fleet(p, sweepTotal - p, 0));
      }
      fleets.add(new Fleet(0, 0, sweepTotal));
    } else {
      fleets.add(new Fleet(prefill, decode, colocated));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    List<Double> perWorker = new ArrayList<>();
    System.out.printf(
        Locale.ROOT,
        "%-14s %10s %10s %10s %10s %12s %14s%n",
        "fleet",
        "p50 TTFT",
        "p99 TTFT",
        "p50 TPOT",
        "p99 TPOT",
        "goodput/s",
        "goodput/worker");
    for (Fleet f : fleets) {
      SimResult r = new FleetSimulator(f, model, workload, policy).run();
      double goodput = r.goodput(sloTtftMs, sloTpotMs);
      String name =
          f.disaggregated() ? f.prefill() + "P" + f.decode() + "D" : f.colocated() + " colocated";
      System.out.printf(
          Locale.ROOT,
          "%-14s %10.1f %10.1f %10.2f %10.2f %12.2f %14.3f%n",
          name,
          r.ttftPercentileMs(50),
          r.ttftPercentileMs(99),
          r.tpotPercentileMs(50),
          r.tpotPercentileMs(99),
          goodput,
          goodput / f.workers());
      Map<String, Object> entry = new LinkedHashMap<>(r.toJson());
      entry.put("request_goodput", goodput);
      entry.put("goodput_per_worker", goodput / f.workers());
      out.put(name, entry);
      names.add(name);
      perWorker.add(goodput / f.workers());
    }
    System.out.printf(
        Locale.ROOT,
        "(times in ms; goodput: requests/s with TTFT <= %.0f ms and TPOT <= %.0f ms)%n",
        sloTtftMs,
        sloTpotMs);
    if (chart != null) {
      drawChart(names, perWorker);
    }
    if (json != null) {
      Files.writeString(json, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(out));
    }
    return 0;
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
