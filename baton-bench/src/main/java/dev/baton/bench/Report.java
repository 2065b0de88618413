package dev.baton.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
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
    // The numbers are written before any chart is drawn, so a machine that cannot draw (no fonts,
    // broken AWT) still gets the whole report; a chart that fails is named in it instead.
    Path file = dir.resolve("report.md");
    Files.writeString(file, md.toString());
    md.append("\n## Charts\n\n");
    chart(md, dir, "ttft_cdf.png", "TTFT CDF", f -> cdf(f, "TTFT", outcomes, LatencyMetric.TTFT));
    chart(md, dir, "itl_cdf.png", "ITL CDF", f -> cdf(f, "ITL", outcomes, LatencyMetric.ITL));
    boolean sweep = outcomes.stream().anyMatch(o -> o.runs().size() > 1);
    if (sweep) {
      chart(
          md,
          dir,
          "throughput_vs_rate.png",
          "throughput vs rate",
          f ->
              versusRate(
                  f,
                  "Throughput vs request rate",
                  "request throughput (req/s)",
                  outcomes,
                  r -> r.requestThroughput()));
      chart(
          md,
          dir,
          "output_tokens_vs_rate.png",
          "output tokens vs rate",
          f ->
              versusRate(
                  f,
                  "Output tokens/s vs request rate",
                  "output throughput (tok/s)",
                  outcomes,
                  r -> r.outputThroughput()));
      if (slo.isSet()) {
        chart(
            md,
            dir,
            "goodput_vs_rate.png",
            "goodput vs rate",
            f ->
                versusRate(
                    f,
                    "Goodput vs request rate",
                    "goodput (req/s meeting every SLO)",
                    outcomes,
                    r -> r.requestGoodput()));
      }
      md.append(
          "An offered rate of `inf` (all at once) is drawn at twice the largest finite rate.\n");
    }
    Files.writeString(file, md.toString());
    return file;
  }

  /** Draws one chart into a file. */
  @FunctionalInterface
  interface Drawing {
    void draw(Path file) throws IOException;
  }

  /**
   * Draws one chart and links it from the page; when the JVM cannot draw (AWT needs fontconfig and
   * a font even headless: "Fontconfig head is null") the half-written file is removed and the page
   * says why, so the numbers above stay the report.
   */
  static void chart(StringBuilder md, Path dir, String fileName, String alt, Drawing d)
      throws IOException {
    Path file = dir.resolve(fileName);
    try {
      d.draw(file);
      md.append("![").append(alt).append("](").append(fileName).append(")\n\n");
    } catch (IOException | RuntimeException | LinkageError | InternalError e) {
      Files.deleteIfExists(file);
      md.append("Chart ")
          .append(fileName)
          .append(" not drawn: this JVM cannot render text (")
          .append(String.valueOf(e.getMessage()).replace('\n', ' '))
          .append("); install fontconfig and a font such as fonts-dejavu-core.\n\n");
    }
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

  /** Colours by cluster (outcome): one per compared cluster, in order. */
  private static final Color[] PALETTE = {
    new Color(0x1f77b4),
    new Color(0xd62728),
    new Color(0x2ca02c),
    new Color(0xff7f0e),
    new Color(0x9467bd),
    new Color(0x8c564b)
  };

  /**
   * A latency CDF: log-scale milliseconds across, percent of samples up (round ticks), dashed lines
   * at p50, p90 and p99 so a reader finds the tail at a glance.
   */
  static void cdf(Path file, String metric, List<Bench.Outcome> outcomes, LatencyMetric m)
      throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(900)
            .height(520)
            .title(metric + " distribution (CDF)")
            .yAxisTitle("samples at or below (%)")
            .build();
    XYStyler styler = chart.getStyler();
    styler.setMarkerSize(0);
    styler.setXAxisDecimalPattern("#,##0.###");
    styler.setYAxisMin(0.0);
    styler.setYAxisMax(100.0);
    styler.setYAxisDecimalPattern("0");
    styler.setYAxisTickMarkSpacingHint(55);
    styler.setXAxisTickMarkSpacingHint(90);
    styler.setLegendPosition(Styler.LegendPosition.OutsideS);
    styler.setPlotGridLinesColor(new Color(0xdddddd));
    boolean any = false;
    double smallest = Double.MAX_VALUE;
    double largest = 0;
    for (int oi = 0; oi < outcomes.size(); oi++) {
      Bench.Outcome o = outcomes.get(oi);
      for (int ri = 0; ri < o.runs().size(); ri++) {
        Bench.Run run = o.runs().get(ri);
        long[] samples = run.result().samplesNanos().get(m).clone();
        if (samples.length == 0) {
          continue;
        }
        Arrays.sort(samples);
        // A step function: each sample raises the curve where it lies (at most 1000 steps).
        int points = Math.min(samples.length, 1000);
        double[] x = new double[2 * points];
        double[] y = new double[2 * points];
        double below = 0;
        for (int i = 0; i < points; i++) {
          int k = (int) ((long) (i + 1) * samples.length / points) - 1;
          // A log axis cannot show 0: gaps under a microsecond are drawn at 1 us.
          double at = Math.max(samples[k] / 1e6, 0.001);
          x[2 * i] = at;
          y[2 * i] = below;
          x[2 * i + 1] = at;
          y[2 * i + 1] = below = 100.0 * (k + 1) / samples.length;
        }
        smallest = Math.min(smallest, x[0]);
        largest = Math.max(largest, x[x.length - 1]);
        String series =
            o.runs().size() > 1
                ? name(o) + " @ " + BenchConfig.rateText(run.requestRate()) + " req/s"
                : name(o);
        XYSeries s = chart.addSeries(unique(chart, series), x, y);
        s.setMarker(SeriesMarkers.NONE);
        s.setLineColor(PALETTE[oi % PALETTE.length]);
        s.setLineWidth(2f);
        if (ri > 0) {
          s.setLineStyle(
              new BasicStroke(
                  2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
        any = true;
      }
    }
    if (!any) {
      chart.addSeries("no samples", new double[] {1}, new double[] {0});
      smallest = 1;
      largest = 1;
    }
    // A log axis shows tails spread over decades; xchart labels only powers of ten on it, so a
    // narrower range stays linear and keeps readable ticks.
    boolean log = largest / smallest >= 30;
    styler.setXAxisLogarithmic(log);
    chart.setXAxisTitle(metric + (log ? " (ms, log scale)" : " (ms)"));
    // xchart puts a tick on every data value when the values are equally spaced, as the
    // percentages of n samples are (n = 60 gave 40 ticks); one hidden point off that grid makes it
    // choose round ticks.
    XYSeries anchor = chart.addSeries(" ", new double[] {smallest}, new double[] {Math.sqrt(2)});
    anchor.setShowInLegend(false);
    anchor.setMarker(SeriesMarkers.NONE);
    anchor.setLineColor(new Color(0, 0, 0, 0));
    for (double p : new double[] {50, 90, 99}) {
      AnnotationLine line = new AnnotationLine(p, false, false);
      chart.addAnnotation(line);
      chart.addAnnotation(new AnnotationText("p" + (int) p, smallest, p + 1.5, false));
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
      XYSeries series = chart.addSeries(unique(chart, name(o)), xs, ys);
      series.setLineColor(PALETTE[outcomes.indexOf(o) % PALETTE.length]);
      series.setMarkerColor(PALETTE[outcomes.indexOf(o) % PALETTE.length]);
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
