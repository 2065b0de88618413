package dev.baton.cli;

import dev.baton.bench.Bench;
import dev.baton.bench.BenchConfig;
import dev.baton.bench.DatasetConfig;
import dev.baton.bench.EndpointConfig;
import dev.baton.bench.Goodput;
import dev.baton.bench.LatencyMetric;
import dev.baton.bench.LoadConfig;
import dev.baton.bench.MetricsConfig;
import dev.baton.bench.Report;
import dev.baton.bench.StubServer;
import dev.baton.core.Json;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton bench}: a serving benchmark for any OpenAI-compatible endpoint, with the options and
 * metrics of {@code vllm bench serve}.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmark an OpenAI-compatible server (options as vllm bench serve names them).",
    subcommands = {BenchCommand.CompareCommand.class, BenchCommand.StubServerCommand.class})
public final class BenchCommand implements Callable<Integer> {

  /** Options shared by a plain run and {@code bench compare}. */
  static final class WorkloadOptions {
    @Option(
        names = "--endpoint",
        defaultValue = "/v1/completions",
        description =
            "API path: /v1/completions or /v1/chat/completions (default: ${DEFAULT-VALUE}).")
    String endpoint;

    @Option(
        names = "--model",
        description = "Model name to send (default: the first of /v1/models).")
    String model;

    @Option(names = "--api-key", description = "Bearer token (default: $OPENAI_API_KEY if set).")
    String apiKey = System.getenv("OPENAI_API_KEY");

    @Option(names = "--no-stream", description = "Ask for whole responses instead of streams.")
    boolean noStream;

    @Option(names = "--ignore-eos", description = "Send ignore_eos so every reply has max_tokens.")
    boolean ignoreEos;

    @Option(names = "--extra-body", description = "JSON object merged into every request body.")
    String extraBody;

    @Option(
        names = "--request-timeout",
        defaultValue = "600",
        description = "Seconds one request may take (default: ${DEFAULT-VALUE}).")
    double requestTimeoutSeconds;

    @Option(
        names = "--dataset-name",
        defaultValue = "random",
        description = "random, prefix, multiturn or sharegpt (default: ${DEFAULT-VALUE}).")
    String datasetName;

    @Option(names = "--dataset-path", description = "ShareGPT JSON file.")
    Path datasetPath;

    @Option(
        names = "--num-prompts",
        defaultValue = "1000",
        description = "Requests to send (default: ${DEFAULT-VALUE}).")
    int numPrompts;

    @Option(names = "--random-input-len", defaultValue = "1024")
    int randomInputLen;

    @Option(names = "--random-output-len", defaultValue = "128")
    int randomOutputLen;

    @Option(names = "--random-range-ratio", defaultValue = "0.0")
    double randomRangeRatio;

    @Option(names = "--random-prefix-len", defaultValue = "0")
    int randomPrefixLen;

    @Option(names = "--prefix-repetition-prefix-len", defaultValue = "256")
    int prefixLen;

    @Option(names = "--prefix-repetition-suffix-len", defaultValue = "256")
    int suffixLen;

    @Option(names = "--prefix-repetition-num-prefixes", defaultValue = "10")
    int numPrefixes;

    @Option(names = "--prefix-repetition-output-len", defaultValue = "128")
    int prefixOutputLen;

    @Option(
        names = "--multiturn-turns",
        defaultValue = "5",
        description = "Turns per session for --dataset-name multiturn (default: ${DEFAULT-VALUE}).")
    int multiturnTurns;

    @Option(
        names = "--sharegpt-output-len",
        defaultValue = "0",
        description = "Fixed output length for ShareGPT (default: each reply's own length).")
    int sharegptOutputLen;

    @Option(
        names = "--prompt-token-ids",
        description = "Send random prompts as token ids (completions; needs a GGUF --tokenizer).")
    boolean promptTokenIds;

    @Option(
        names = "--tokenizer",
        description = "GGUF file, 'server' (/tokenize), 'words' or 'auto' (default: auto).")
    String tokenizer;

    @Option(
        names = "--request-rate",
        defaultValue = "inf",
        description =
            "Requests per second, Poisson arrivals; inf sends all at once (default: ${DEFAULT-VALUE}).")
    String requestRate;

    @Option(
        names = "--burstiness",
        defaultValue = "1.0",
        description = "Gamma shape of arrival gaps; 1 = Poisson (default: ${DEFAULT-VALUE}).")
    double burstiness;

    @Option(names = "--max-concurrency", description = "At most this many requests in flight.")
    Integer maxConcurrency;

    @Option(
        names = "--duration",
        description = "Send for this many seconds instead of --num-prompts.")
    Double durationSeconds;

    @Option(
        names = {"--warmup", "--num-warmups"},
        defaultValue = "0",
        description = "Warm-up requests, not measured (default: ${DEFAULT-VALUE}).")
    int warmups;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(
        names = "--goodput",
        arity = "1..*",
        description = "SLOs for goodput, e.g. --goodput ttft:500 tpot:50 e2el:10000 (ms).")
    List<String> goodput = new ArrayList<>();

    @Option(
        names = "--percentile-metrics",
        defaultValue = "ttft,tpot,itl,e2el",
        description = "Metrics with percentiles (default: ${DEFAULT-VALUE}).")
    String percentileMetrics;

    @Option(
        names = "--metric-percentiles",
        defaultValue = "90,99",
        description = "Percentiles to report (default: ${DEFAULT-VALUE}).")
    String metricPercentiles;

    @Option(
        names = "--sweep",
        split = ",",
        description = "Run once per request rate, e.g. --sweep 1,2,4,8,inf.")
    List<String> sweep = new ArrayList<>();

    @Option(names = "--label", description = "A name for this run in results and reports.")
    String label;

    BenchConfig toConfig(String baseUrl) {
      URI base;
      try {
        base = URI.create(baseUrl);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--base-url is not a URL: " + baseUrl, e);
      }
      if (!(requestTimeoutSeconds > 0)) {
        throw new IllegalArgumentException("--request-timeout must be positive");
      }
      EndpointConfig endpointConfig =
          new EndpointConfig(
              base,
              endpoint,
              model,
              apiKey,
              !noStream,
              ignoreEos,
              extraBody,
              Duration.ofMillis((long) (requestTimeoutSeconds * 1000)));
      DatasetConfig dataset =
          new DatasetConfig(
              datasetName,
              numPrompts,
              seed,
              promptTokenIds,
              new DatasetConfig.RandomShape(
                  randomInputLen, randomOutputLen, randomRangeRatio, randomPrefixLen),
              new DatasetConfig.PrefixShape(prefixLen, suffixLen, numPrefixes, prefixOutputLen),
              multiturnTurns,
              new DatasetConfig.ShareGpt(datasetPath, sharegptOutputLen));
      Duration duration =
          durationSeconds == null ? null : Duration.ofMillis((long) (durationSeconds * 1000));
      LoadConfig load =
          new LoadConfig(
              BenchConfig.parseRate(requestRate),
              burstiness,
              maxConcurrency == null ? 0 : maxConcurrency,
              duration,
              warmups,
              seed);
      if (maxConcurrency != null && maxConcurrency < 1) {
        throw new IllegalArgumentException("--max-concurrency must be >= 1");
      }
      MetricsConfig metrics =
          new MetricsConfig(
              Goodput.parse(goodput),
              LatencyMetric.parseList(percentileMetrics),
              LatencyMetric.parsePercentiles(metricPercentiles));
      List<Double> rates = sweep.stream().map(BenchConfig::parseRate).toList();
      return new BenchConfig(endpointConfig, dataset, load, metrics, tokenizer, rates, label);
    }
  }

  /** Output options shared by a plain run and {@code bench compare}. */
  static final class OutputOptions {
    @Option(names = "--save-result", description = "Write the result JSON.")
    boolean saveResult;

    @Option(names = "--save-detailed", description = "Include generated texts in the result JSON.")
    boolean saveDetailed;

    @Option(names = "--result-dir", description = "Directory for result files (default: .).")
    Path resultDir;

    @Option(
        names = "--result-filename",
        description = "Result file name (default: vLLM's pattern).")
    String resultFilename;

    @Option(names = "--report", description = "Write a markdown report with PNG charts to DIR.")
    Path reportDir;

    @Option(names = "--no-progress", description = "No live progress bar.")
    boolean noProgress;
  }

  // Not picocli-required: the subcommands (compare, stub-server) run without it.
  @Option(names = "--base-url", description = "Server URL, e.g. http://127.0.0.1:8000 (required).")
  String baseUrl;

  @picocli.CommandLine.Mixin WorkloadOptions workload;

  @picocli.CommandLine.Mixin OutputOptions output;

  @Override
  public Integer call() throws Exception {
    if (baseUrl == null) {
      throw new IllegalArgumentException("--base-url is required (e.g. http://127.0.0.1:8000)");
    }
    BenchConfig config = workload.toConfig(baseUrl);
    Bench.Outcome outcome = Bench.execute(config, !output.noProgress, System.err);
    return emit(outcome, output);
  }

  /** Prints summaries and writes the result files and the report; exit 0 if anything completed. */
  static int emit(Bench.Outcome outcome, OutputOptions output) throws IOException {
    int completed = 0;
    for (Bench.Run run : outcome.runs()) {
      Integer limit =
          outcome.config().load().maxConcurrency() > 0
              ? outcome.config().load().maxConcurrency()
              : null;
      System.out.print(run.result().summaryTable(limit, run.requestRate()));
      completed += run.result().completed();
      if (output.saveResult) {
        Map<String, Object> json = new java.util.LinkedHashMap<>(run.json());
        if (output.saveDetailed) {
          json.put("generated_texts", run.result().generatedTexts());
        }
        String name =
            output.resultFilename != null
                ? sweepName(output.resultFilename, outcome, run)
                : Bench.defaultResultFilename(outcome, run);
        Path dir = output.resultDir != null ? output.resultDir : Path.of(".");
        Files.createDirectories(dir);
        Path file = dir.resolve(name);
        Files.writeString(file, Json.write(json));
        System.err.println("result: " + file);
      }
    }
    if (output.reportDir != null) {
      Path report = Report.write(output.reportDir, List.of(outcome));
      System.err.println("report: " + report);
    }
    return completed > 0 ? 0 : 1;
  }

  private static String sweepName(String name, Bench.Outcome outcome, Bench.Run run) {
    if (outcome.runs().size() == 1) {
      return name;
    }
    String rate = "-rate" + BenchConfig.rateText(run.requestRate());
    return name.endsWith(".json")
        ? name.substring(0, name.length() - 5) + rate + ".json"
        : name + rate;
  }

  /**
   * {@code baton bench compare -f a.yaml -f b.yaml}: brings each cluster up with the control plane,
   * runs the same workload against its gateway, takes it down, and writes one side-by-side report.
   */
  @Command(
      name = "compare",
      mixinStandardHelpOptions = true,
      description = {
        "Run the same workload against several clusters, one after another:",
        "baton up -f SPEC, benchmark its gateway, baton down; then one side-by-side report."
      })
  static final class CompareCommand implements Callable<Integer> {
    @Option(
        names = {"-f", "--file"},
        required = true,
        paramLabel = "SPEC",
        description = "cluster spec (repeat: one per cluster to compare)")
    List<Path> specs = new ArrayList<>();

    @Option(
        names = "--rounds",
        defaultValue = "1",
        description =
            "Run every cluster this many times, alternating the order (A B, B A, ...),"
                + " so warm-up and machine drift do not favour one (default: ${DEFAULT-VALUE}).")
    int rounds;

    @picocli.CommandLine.Mixin WorkloadOptions workload;

    @picocli.CommandLine.Mixin OutputOptions output;

    /**
     * The order of runs as {spec index, round number}: round 1 in the given order, round 2
     * reversed, and so on, so each cluster runs early as often as late.
     */
    static List<int[]> schedule(int specCount, int rounds) {
      List<int[]> steps = new ArrayList<>();
      for (int r = 1; r <= rounds; r++) {
        for (int k = 0; k < specCount; k++) {
          int index = r % 2 == 1 ? k : specCount - 1 - k;
          steps.add(new int[] {index, r});
        }
      }
      return steps;
    }

    @Override
    public Integer call() throws Exception {
      if (rounds < 1) {
        throw new IllegalArgumentException("--rounds must be >= 1");
      }
      for (Path spec : specs) {
        if (!Files.isRegularFile(spec)) {
          throw new IllegalArgumentException("cluster spec " + spec + " not found");
        }
      }
      if (!workload.sweep.isEmpty() && workload.sweep.size() > 8) {
        throw new IllegalArgumentException("compare: at most 8 swept rates");
      }
      List<Bench.Outcome> outcomes = new ArrayList<>();
      List<String> ran = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      List<String> failures = new ArrayList<>();
      List<String> specLabels = new ArrayList<>();
      for (Path spec : specs) {
        specLabels.add(uniqueLabel(spec, specLabels));
      }
      for (int[] step : schedule(specs.size(), rounds)) {
        Path spec = specs.get(step[0]);
        String label =
            rounds > 1 ? specLabels.get(step[0]) + "#" + step[1] : specLabels.get(step[0]);
        labels.add(label);
        try {
          outcomes.add(runOne(spec, label));
          ran.add(spec.toString());
        } catch (InterruptedException e) {
          throw e;
        } catch (Exception e) {
          // One cluster that does not come up must not lose the others' results.
          String message = label + ": " + e.getMessage();
          failures.add(message);
          System.err.println("compare: " + message);
        }
      }
      if (outcomes.isEmpty()) {
        throw new IllegalStateException("no cluster could be benchmarked: " + failures);
      }
      System.out.println();
      System.out.print(dev.baton.bench.Comparison.table(outcomes));
      for (String failure : failures) {
        System.out.println("not run: " + failure.lines().findFirst().orElse(failure));
      }
      Path reportDir = output.reportDir != null ? output.reportDir : Path.of("bench-compare");
      Path report = Report.write(reportDir, outcomes);
      if (!failures.isEmpty()) {
        Files.writeString(
            report,
            "\n## Not run\n\n"
                + failures.stream()
                    .map(f -> "- " + f.lines().findFirst().orElse(f) + "\n")
                    .collect(java.util.stream.Collectors.joining()),
            java.nio.file.StandardOpenOption.APPEND);
      }
      if (output.saveResult) {
        // Per-cluster vLLM-style result files as well, named after the cluster.
        Path dir = output.resultDir != null ? output.resultDir : Path.of(".");
        Files.createDirectories(dir);
        for (Bench.Outcome o : outcomes) {
          for (Bench.Run run : o.runs()) {
            Path file = dir.resolve(o.config().label() + "-" + Bench.defaultResultFilename(o, run));
            Files.writeString(file, Json.write(run.json()));
            System.err.println("result: " + file);
          }
        }
      }
      Map<String, Object> json = dev.baton.bench.Comparison.json(outcomes, ran);
      json.put("not_run", failures);
      Path jsonFile = reportDir.resolve("compare.json");
      Files.writeString(jsonFile, Json.write(json));
      System.err.println("report: " + report + " (results: " + jsonFile + ")");
      boolean anyCompleted =
          outcomes.stream()
              .anyMatch(o -> o.runs().stream().anyMatch(r -> r.result().completed() > 0));
      return anyCompleted && failures.isEmpty() ? 0 : 1;
    }

    private static String uniqueLabel(Path spec, List<String> taken) {
      String stem = spec.getFileName().toString().replaceFirst("\\.(ya?ml)$", "");
      String label = stem;
      for (int k = 2; taken.contains(label); k++) {
        label = stem + "-" + k;
      }
      return label;
    }

    /** Up, benchmark, down (down also on failure and on Ctrl-C). */
    private Bench.Outcome runOne(Path spec, String label) throws Exception {
      String cluster = "bench-" + label.replaceAll("[^A-Za-z0-9-]", "-");
      System.err.println("compare: bringing up " + spec + " as cluster '" + cluster + "'");
      Thread stopOnExit = new Thread(() -> downQuietly(cluster), "bench-compare-down");
      Runtime.getRuntime().addShutdownHook(stopOnExit);
      try {
        dev.baton.control.Cluster.UpResult up =
            dev.baton.control.Cluster.up(
                Files.readString(spec), spec.toString(), cluster, false, System.err);
        BenchConfig config = workload.toConfig(up.gatewayUrl()).withLabel(label);
        if (workload.tokenizer == null) {
          // The gateway has no /tokenize: count prompt tokens with the cluster's own model.
          dev.baton.control.ClusterState state =
              dev.baton.control.RunDirectory.forName(cluster).readState();
          String model = state == null ? null : state.model();
          if (model != null && Files.isRegularFile(Path.of(model))) {
            System.err.println("compare: counting prompt tokens with " + model);
            config = config.withTokenizer(model);
          } else {
            System.err.println("compare: the cluster's model file is unknown (" + model + ")");
          }
        }
        return Bench.execute(config, !output.noProgress, System.err);
      } finally {
        downQuietly(cluster);
        try {
          Runtime.getRuntime().removeShutdownHook(stopOnExit);
        } catch (IllegalStateException shuttingDown) {
          // the hook is running
        }
      }
    }

    private static void downQuietly(String cluster) {
      try {
        System.err.println("compare: " + dev.baton.control.Cluster.down(cluster));
      } catch (Exception e) {
        System.err.println("compare: could not stop cluster '" + cluster + "': " + e.getMessage());
      }
    }
  }

  /** {@code baton bench stub-server}: the scripted OpenAI server, for measuring the generator. */
  @Command(
      name = "stub-server",
      mixinStandardHelpOptions = true,
      description = "Serve scripted OpenAI responses (no model) to measure the load generator.")
  static final class StubServerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8000")
    int port;

    @Option(names = "--ttft-ms", defaultValue = "0")
    long ttftMs;

    @Option(names = "--itl-ms", defaultValue = "0")
    long itlMs;

    @Option(
        names = "--tokens",
        defaultValue = "0",
        description = "Chunks per reply (default: the request's max_tokens).")
    int tokens;

    @Override
    public Integer call() throws Exception {
      StubServer.Script script =
          StubServer.Script.delays(Duration.ofMillis(ttftMs), Duration.ofMillis(itlMs), tokens);
      try (StubServer server = StubServer.start(port, script)) {
        System.err.println("stub server on " + server.baseUrl() + " (Ctrl-C stops it)");
        new CountDownLatch(1).await();
      }
      return 0;
    }
  }
}
