package dev.baton.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The whole {@code baton bench} flow: find the model, pick the tokenizer, build the dataset, warm
 * up, run once or once per swept rate, and hand back the results with vLLM's result header.
 */
public final class Bench {

  /** One run at one request rate. */
  public record Run(double requestRate, BenchmarkResult result, Map<String, Object> json) {}

  /** Every run of one invocation. */
  public record Outcome(BenchConfig config, String tokenizerId, List<Run> runs) {}

  private Bench() {}

  /**
   * Runs the benchmark.
   *
   * @param progress show a live progress bar (only on a terminal)
   * @param log where notes go (stderr)
   */
  public static Outcome execute(BenchConfig config, boolean progress, PrintStream log)
      throws InterruptedException {
    EndpointConfig endpoint = config.endpoint();
    try (OpenAiClient probe = new OpenAiClient(endpoint, new WordTokenizer()::count)) {
      if (endpoint.model() == null) {
        String model = firstModel(probe, log);
        if (model != null) {
          endpoint = endpoint.withModel(model);
        }
      }
    }
    try (OpenAiClient client = new OpenAiClient(endpoint, new WordTokenizer()::count)) {
      PromptTokenizer tokenizer = pickTokenizer(config.tokenizer(), client, log);
      List<Double> rates =
          config.sweepRates().isEmpty()
              ? List.of(config.load().requestRate())
              : config.sweepRates();
      List<Run> runs = new ArrayList<>();
      for (int i = 0; i < rates.size(); i++) {
        double rate = rates.get(i);
        // A fresh seed per swept rate: a rerun of the same prompts would hit a warm prefix cache.
        long seed = config.dataset().seed() + i;
        DatasetConfig dataset = config.dataset().withSeed(seed);
        LoadConfig load = config.load().withRate(rate).withSeed(config.load().seed() + i);
        TextSynthesizer text = new TextSynthesizer(tokenizer);
        Workload workload = Datasets.build(dataset, text);
        BenchRunner runner = new BenchRunner(client, load, config.metrics());
        if (load.warmups() > 0) {
          List<RequestResult> warm = runner.warmUp(workload);
          long failed = warm.stream().filter(r -> !r.success()).count();
          log.printf("warm-up: %d requests, %d failed%n", warm.size(), failed);
        }
        if (rates.size() > 1) {
          log.printf(
              "sweep: request rate %s (%d of %d)%n",
              BenchConfig.rateText(rate), i + 1, rates.size());
        }
        BenchmarkResult result;
        long total = load.duration() != null ? -1 : workload.size();
        ProgressDisplay bar =
            ProgressDisplay.startIfTerminal(runner.stats(), total, progress, "bench");
        try {
          result = runner.run(workload);
        } finally {
          if (bar != null) {
            bar.close();
          }
        }
        Map<String, Object> json = header(config, endpoint, tokenizer, dataset, load);
        json.putAll(result.toJson(false));
        runs.add(new Run(rate, result, json));
      }
      return new Outcome(config.withEndpoint(endpoint), tokenizer.id(), runs);
    }
  }

  private static String firstModel(OpenAiClient client, PrintStream log)
      throws InterruptedException {
    try {
      JsonNode models = client.getJson("/v1/models");
      JsonNode first = models.path("data").path(0).path("id");
      if (first.isTextual()) {
        return first.asText();
      }
      log.println("note: /v1/models lists no model; requests go without a model field");
    } catch (IOException | IllegalArgumentException e) {
      log.println("note: cannot list models (" + OpenAiClient.reason(e) + "); pass --model");
    }
    return null;
  }

  static PromptTokenizer pickTokenizer(String spec, OpenAiClient client, PrintStream log) {
    if (spec == null || spec.equals("auto")) {
      ServerTokenizer server = new ServerTokenizer(client);
      if (server.available()) {
        return server;
      }
      log.println(
          "note: the server has no /tokenize and no --tokenizer FILE.gguf was given: prompt "
              + "lengths are approximate (one token per word); reported input tokens use the "
              + "server's usage where it sends one");
      return new WordTokenizer();
    }
    return switch (spec) {
      case "server" -> new ServerTokenizer(client);
      case "words" -> new WordTokenizer();
      default -> {
        Path path = Path.of(spec);
        if (!Files.isRegularFile(path)) {
          throw new IllegalArgumentException(
              "--tokenizer must be a GGUF file, 'server', 'words' or 'auto'; no file " + spec);
        }
        yield GgufPromptTokenizer.open(path);
      }
    };
  }

  /** vLLM's result header, plus Baton's dataset and endpoint fields. */
  static Map<String, Object> header(
      BenchConfig config,
      EndpointConfig endpoint,
      PromptTokenizer tokenizer,
      DatasetConfig dataset,
      LoadConfig load) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("date", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    json.put("endpoint_type", endpoint.backend());
    json.put("backend", endpoint.backend());
    json.put("label", config.label());
    json.put("model_id", endpoint.model());
    json.put("tokenizer_id", tokenizer.id());
    json.put("num_prompts", dataset.numPrompts());
    json.put("request_rate", Double.isInfinite(load.requestRate()) ? "inf" : load.requestRate());
    json.put("burstiness", load.burstiness());
    json.put("max_concurrency", load.maxConcurrency() > 0 ? load.maxConcurrency() : null);
    json.put("base_url", endpoint.baseUrl().toString());
    json.put("endpoint", endpoint.endpoint());
    json.put("dataset_name", dataset.name());
    json.put("seed", dataset.seed());
    json.put("num_warmups", load.warmups());
    json.put("duration_limit_s", load.duration() == null ? null : load.duration().toMillis() / 1e3);
    return json;
  }

  /** vLLM's result file name: {@code {backend}-{rate}qps[-concurrency{N}]-{model}-{date}.json}. */
  public static String defaultResultFilename(Outcome outcome, Run run) {
    EndpointConfig e = outcome.config().endpoint();
    String model = e.model() == null ? "model" : e.model();
    model = model.substring(model.lastIndexOf('/') + 1);
    int limit = outcome.config().load().maxConcurrency();
    return e.backend()
        + "-"
        + BenchConfig.rateText(run.requestRate())
        + "qps"
        + (limit > 0 ? "-concurrency" + limit : "")
        + "-"
        + model
        + "-"
        + run.json().get("date")
        + ".json";
  }
}
