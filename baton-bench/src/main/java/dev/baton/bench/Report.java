package dev.baton.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * {@code --report DIR}: a markdown page with the run's numbers and PNG charts: TTFT and ITL CDFs,
 * and for rate sweeps throughput and goodput against the offered rate. Several outcomes (from
 * {@code bench compare}) share each chart, one series each.
 */
public final class Report {

  private Report() {}

  /** Writes {@code DIR/report.md} and its charts; returns the markdown file. */
  public static Path write(Path dir, List<Bench.Outcome> outcomes) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Files.createDirectories(dir);
    StringBuilder md = new StringBuilder("# Serving benchmark\n\n");
    Bench.Outcome first = outcomes.get(0);
    EndpointConfig e = first.config().endpoint();
    DatasetConfig d = first.config().dataset();
    md.append("| setting | value |\n|---|---|\n");
    md.append("| endpoint | `")
        .append(e.endpoint())
        .append("` (")
        .append(e.stream() ? "streaming" : "not streaming")
        .append(") |\n");
    md.append("| model | ").append(e.model()).append(" |\n");
    md.append("| dataset | ").append(describe(d)).append(" |\n");
    md.append("| tokenizer | ").append(first.tokenizerId()).append(" |\n");
    md.append("| burstiness | ").append(first.config().load().burstiness()).append(" |\n");
    md.append("| max concurrency | ")
        .append(
            first.config().load().maxConcurrency() > 0
                ? first.config().load().maxConcurrency()
                : "none")
        .append(" |\n");
    Goodput slo = first.config().metrics().goodput();
    if (slo.isSet()) {
      md.append("| goodput SLOs (ms) | ").append(slo.asMap()).append(" |\n");
    }
    md.append("\n## Results\n\n");
    md.append(
        "| run | rate (req/s) | completed | failed | req/s | output tok/s | goodput req/s "
            + "| mean TTFT ms | p99 TTFT ms | mean TPOT ms | p99 TPOT ms | mean ITL ms | p99 ITL ms "
            + "| mean E2EL ms |\n");
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Bench.Outcome o : outcomes) {
      for (Bench.Run run : o.runs()) {
        BenchmarkResult r = run.result();
        md.append("| ")
            .append(name(o))
            .append(" | ")
            .append(BenchConfig.rateText(run.requestRate()))
            .append(" | ")
            .append(r.completed())
            .append(" | ")
            .append(r.failed())
            .append(" | ")
            .append(f(r.requestThroughput()))
            .append(" | ")
            .append(f(r.outputThroughput()))
            .append(" | ")
            .append(r.goodput().isSet() ? f(r.requestGoodput()) : "-")
            .append(" | ")
            .append(f(r.stats(LatencyMetric.TTFT).meanMs()))
            .append(" | ")
            .append(f(percentile(r, LatencyMetric.TTFT, 99)))
            .append(" | ")
            .append(f(r.stats(LatencyMetric.TPOT).meanMs()))
            .append(" | ")
            .append(f(percentile(r, LatencyMetric.TPOT, 99)))
            .append(" | ")
            .append(f(r.stats(LatencyMetric.ITL).meanMs()))
            .append(" | ")
            .append(f(percentile(r, LatencyMetric.ITL, 99)))
            .append(" | ")
            .append(f(r.stats(LatencyMetric.E2EL).meanMs()))
            .append(" |\n");
        if (!r.failureReasons().isEmpty()) {
          md.append("| | failures: ").append(r.failureReasons()).append(" |||||||||||||\n");
        }
      }
    }
    md.append("\n## Charts\n\n");
    cdf(dir.resolve("ttft_cdf.png"), "TTFT CDF", "TTFT (ms)", outcomes, LatencyMetric.TTFT);
    md.append("![TTFT CDF](ttft_cdf.png)\n\n");
    cdf(dir.resolve("itl_cdf.png"), "ITL CDF", "ITL (ms)", outcomes, LatencyMetric.ITL);
    md.append("![ITL CDF](itl_cdf.png)\n\n");
    boolean sweep = outcomes.stream().anyMatch(o -> o.runs().size() > 1);
    if (sweep) {
      versusRate(
          dir.resolve("throughput_vs_rate.png"),
          "Throughput vs request rate",
          "request throughput (req/s)",
          outcomes,
          r -> r.requestThroughput());
      md.append("![throughput vs rate](throughput_vs_rate.png)\n\n");
      versusRate(
          dir.resolve("output_tokens_vs_rate.png"),
          "Output tokens/s vs request rate",
          "output throughput (tok/s)",
          outcomes,
          r -> r.outputThroughput());
      md.append("![output tokens vs rate](output_tokens_vs_rate.png)\n\n");
      if (slo.isSet()) {
        versusRate(
            dir.resolve("goodput_vs_rate.png"),
            "Goodput vs request rate",
            "goodput (req/s meeting every SLO)",
            outcomes,
            r -> r.requestGoodput());
        md.append("![goodput vs rate](goodput_vs_rate.png)\n\n");
      }
      md.append(
          "An offered rate of `inf` (all at once) is drawn at twice the largest finite rate.\n");
    }
    Path file = dir.resolve("report.md");
    Files.writeString(file, md.toString());
    return file;
  }

  private static String describe(DatasetConfig d) {
    return switch (d.name()) {
      case "random" ->
          String.format(
              Locale.ROOT,
              "random, %d prompts, in %d / out %d tokens, " + "range ratio %.2f, shared prefix %d",
              d.numPrompts(),
              d.random().inputLen(),
              d.random().outputLen(),
              d.random().rangeRatio(),
              d.random().prefixLen());
      case "prefix" ->
          String.format(
              Locale.ROOT,
              "prefix repetition, %d prompts, %d prefixes of " + "%d tokens, suffix %d, out %d",
              d.numPrompts(),
              d.prefix().numPrefixes(),
              d.prefix().prefixLen(),
              d.prefix().suffixLen(),
              d.prefix().outputLen());
      case "multiturn" ->
          String.format(
              Locale.ROOT,
              "multi-turn, %d requests in sessions of %d "
                  + "turns, in %d / out %d tokens per turn",
              d.numPrompts(),
              d.multiturnTurns(),
              d.random().inputLen(),
              d.random().outputLen());
      default -> "ShareGPT " + d.sharegpt().path() + ", " + d.numPrompts() + " prompts";
    };
  }

  private static String name(Bench.Outcome o) {
    return o.config().label() != null
        ? o.config().label()
        : o.config().endpoint().baseUrl().toString();
  }

  private static double percentile(BenchmarkResult r, LatencyMetric m, double p) {
    double v = r.stats(m).at(p);
    if (Double.isNaN(v)) {
      v = LatencyStats.histogramOf(r.samplesNanos().get(m)).getValueAtPercentile(p) / 1e6;
    }
    return v;
  }

  private static String f(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
  }

  private static void cdf(
      Path file, String title, String axis, List<Bench.Outcome> outcomes, LatencyMetric metric)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(800)
            .height(500)
            .title(title)
            .xAxisTitle(axis)
            .yAxisTitle("fraction of samples")
            .build();
    chart.getStyler().setMarkerSize(0);
    boolean any = false;
    for (Bench.Outcome o : outcomes) {
      for (Bench.Run run : o.runs()) {
        long[] samples = run.result().samplesNanos().get(metric).clone();
        if (samples.length == 0) {
          continue;
        }
        Arrays.sort(samples);
        int points = Math.min(samples.length, 1000);
        double[] x = new double[points];
        double[] y = new double[points];
        for (int i = 0; i < points; i++) {
          int k = (int) ((long) (i + 1) * samples.length / points) - 1;
          x[i] = samples[k] / 1e6;
          y[i] = (k + 1) / (double) samples.length;
        }
        String series =
            o.runs().size() > 1
                ? name(o) + " @ " + BenchConfig.rateText(run.requestRate())
                : name(o);
        chart.addSeries(unique(chart, series), x, y).setMarker(SeriesMarkers.NONE);
        any = true;
      }
    }
    if (!any) {
      chart.addSeries("no samples", new double[] {0}, new double[] {0});
    }
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static void versusRate(
      Path file,
      String title,
      String axis,
      List<Bench.Outcome> outcomes,
      java.util.function.ToDoubleFunction<BenchmarkResult> value)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(800)
            .height(500)
            .title(title)
            .xAxisTitle("offered request rate (req/s)")
            .yAxisTitle(axis)
            .build();
    double maxFinite = 1;
    for (Bench.Outcome o : outcomes) {
      for (Bench.Run run : o.runs()) {
        if (!Double.isInfinite(run.requestRate())) {
          maxFinite = Math.max(maxFinite, run.requestRate());
        }
      }
    }
    for (Bench.Outcome o : outcomes) {
      List<double[]> points = new ArrayList<>();
      for (Bench.Run run : o.runs()) {
        double x = Double.isInfinite(run.requestRate()) ? 2 * maxFinite : run.requestRate();
        points.add(new double[] {x, value.applyAsDouble(run.result())});
      }
      points.sort((a, b) -> Double.compare(a[0], b[0]));
      double[] xs = points.stream().mapToDouble(p -> p[0]).toArray();
      double[] ys = points.stream().mapToDouble(p -> p[1]).toArray();
      chart.addSeries(unique(chart, name(o)), xs, ys);
    }
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static String unique(XYChart chart, String name) {
    String candidate = name;
    for (int i = 2; chart.getSeriesMap().containsKey(candidate); i++) {
      candidate = name + " (" + i + ")";
    }
    return candidate;
  }
}
