package dev.baton.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.PrometheusText;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongFunction;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The README's main job ({@code baton demo}): brings up a 1P1D cluster plus a colocated worker on a
 * random model, sends a short mixed workload through the gateway — every prompt once the
 * disaggregated way and once colocated — prints what happened to each request and a side-by-side
 * summary, then shuts the cluster down (unless kept).
 */
public final class Demo {

  /** What the demo runs on. {@code model} null means a random model of {@code preset}. */
  public record Options(
      String model,
      String preset,
      String name,
      int maxTokens,
      boolean keep,
      PrintStream out,
      ToLongFunction<String> kvBytesPerToken,
      Stage mixedLoad) {}

  /**
   * A stage run against the cluster's gateway after the per-request walkthrough (the CLI plugs in
   * the mixed-load comparison, which needs the benchmark client); null for none.
   */
  @FunctionalInterface
  public interface Stage {
    void run(String gatewayUrl) throws IOException, InterruptedException;
  }

  /** One request's outcome. */
  public record Result(
      int index,
      String prompt,
      String route,
      String path,
      int promptTokens,
      int completionTokens,
      double ttftMs,
      double e2eMs,
      double tokensPerSecond,
      long kvBytes,
      long prefixHitTokens,
      String error) {}

  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /**
   * Counters of KV bytes a worker received from a peer (decode side), whatever their exact name.
   */
  private static final Pattern KV_DIRECTION = Pattern.compile("pull|recv|receiv|load|transfer");

  private final Options options;
  private final PrintStream out;

  /** KV bytes per token of the served model (F32 KV); 0 when unknown. */
  private long bytesPerToken;

  /** Whether KV bytes come from the workers' own counters (else derived from token counts). */
  private boolean kvCounters;

  public Demo(Options options) {
    this.options = options;
    this.out = options.out();
  }

  /**
   * The cluster spec the demo runs: 1 prefill + 1 decode in a P/D pool and 2 colocated workers, one
   * compute thread each, so both pools hold the same number of cores.
   */
  public String spec() {
    String model = options.model() != null ? options.model() : "random:" + options.preset();
    return "name: "
        + options.name()
        + "\nmodel: "
        + model
        + "\nmode: pool\ngateway:\n  policy: pd\n  config: {request_timeout_ms: 60000}\n"
        + "engine:\n  args: [--max-num-seqs, '16', --threads, '1']\n"
        + "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1}\n  both: {replicas: 2}\n"
        + "supervision: {readyTimeoutSeconds: 90}\n";
  }

  /** Runs the whole demo; returns the results (the cluster is down unless {@code keep}). */
  public List<Result> run() throws IOException, InterruptedException {
    long start = System.nanoTime();
    RunDirectory run = RunDirectory.forName(options.name());
    if (run.hasState()) {
      out.println(Cluster.down(options.name()) + " (a previous demo)");
    }
    Thread cleanup = new Thread(this::downQuietly, "baton-demo-cleanup");
    if (!options.keep()) {
      Runtime.getRuntime().addShutdownHook(cleanup);
    }
    List<Result> results;
    try {
      out.println("== bringing up a 1P1D pool and a pool of 2 colocated workers (1 thread each)");
      Cluster.UpResult up = Cluster.up(spec(), "demo", options.name(), false, out);
      StatusView status = Cluster.status(options.name());
      bytesPerToken =
          options.kvBytesPerToken() == null
              ? 0
              : options.kvBytesPerToken().applyAsLong(status.model());
      out.print(status.render());
      out.println();
      results = workload(up.gatewayUrl(), status);
      printResults(results);
      printSummary(results);
      if (options.mixedLoad() != null) {
        options.mixedLoad().run(up.gatewayUrl());
      }
      out.printf(Locale.ROOT, "%ndemo took %.1f s%n", (System.nanoTime() - start) / 1e9);
      if (options.keep()) {
        out.println();
        out.println("the cluster is still up (--keep). Try it:");
        out.println(
            "  curl -s "
                + up.gatewayUrl()
                + "/v1/completions -H 'Content-Type: application/json' \\\n"
                + "    -d '{\"prompt\": \"Once upon a time\", \"max_tokens\": 16}'");
        out.println("  (\"model\": \"colocated\" sends it to the colocated worker)");
        out.println("  baton status --name " + options.name());
        out.println("  baton down --name " + options.name());
      }
    } finally {
      if (!options.keep()) {
        downQuietly();
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
          // the hook runs instead
        }
      }
    }
    return results;
  }

  private void downQuietly() {
    try {
      if (RunDirectory.forName(options.name()).hasState()) {
        out.println(Cluster.down(options.name()));
      }
    } catch (IOException | RuntimeException e) {
      out.println("could not stop the demo cluster: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A short mixed workload: short, long, shared-prefix and repeated prompts. */
  static List<String[]> prompts() {
    String system =
        "You are a concise assistant for a railway company. Answer in one sentence, mention the"
            + " platform number when you know it, and never invent timetables. The stations are"
            + " Northgate, Riverside, Old Mill, Harbour and Summit; trains run every ten minutes"
            + " from six in the morning until midnight. ";
    String longText =
        "In the early years of the railway the line climbed from the harbour through the old mill"
            + " district, crossed the river on a stone viaduct of nine arches and wound up the"
            + " hillside in a series of tight curves before reaching the summit station, where"
            + " passengers could see the whole valley spread out below them like a map. ";
    return List.of(
        new String[] {"short", "Hello! Who are you?"},
        new String[] {"long", longText.repeat(3) + "Summarise this story."},
        new String[] {"prefix-1", system + "When is the first train to Summit?"},
        new String[] {"prefix-2", system + "Which station comes after Old Mill?"},
        new String[] {"prefix-3", system + "How often do trains run to Harbour?"},
        new String[] {"repeat-long", longText.repeat(3) + "Summarise this story."});
  }

  private List<Result> workload(String gateway, StatusView status) throws InterruptedException {
    Map<String, String> names = new HashMap<>();
    for (StatusView.WorkerRow w : status.workers()) {
      names.put("http://127.0.0.1:" + w.port(), w.id());
    }
    List<Result> results = new ArrayList<>();
    int index = 0;
    out.println(
        "== sending "
            + prompts().size() * 2
            + " requests through the gateway (each prompt disaggregated, then colocated)");
    // Warm-up requests (not shown) so JIT compilation does not land on the measured ones; their
    // text shares nothing with the workload, so they leave no useful prefix in any cache.
    for (int i = 0; i < 2; i++) {
      String warm = ("warming up the engine " + i + " ").repeat(40);
      request(gateway, warm, "disaggregated", names, 0, 8);
      request(gateway, warm, "colocated", names, 0, 8);
    }
    for (String[] prompt : prompts()) {
      for (String route : List.of("disaggregated", "colocated")) {
        results.add(
            request(gateway, prompt[1], route, names, ++index, options.maxTokens(), prompt[0]));
      }
    }
    return results;
  }

  private Result request(
      String gateway,
      String prompt,
      String route,
      Map<String, String> names,
      int index,
      int maxTokens)
      throws InterruptedException {
    return request(gateway, prompt, route, names, index, maxTokens, "warm-up");
  }

  /** One streaming completion; worker metrics are read before and after it for KV and cache. */
  private Result request(
      String gateway,
      String prompt,
      String route,
      Map<String, String> names,
      int index,
      int maxTokens,
      String label)
      throws InterruptedException {
    Map<String, PrometheusText> before = scrapeAll(names.keySet());
    ObjectNode body = Json.object();
    if (route.equals("colocated")) {
      body.put("model", WorkerPlan.COLOCATED_POOL);
    }
    body.put("prompt", prompt);
    body.put("max_tokens", maxTokens);
    body.put("temperature", 0);
    body.put("ignore_eos", true);
    body.put("stream", true);
    body.putObject("stream_options").put("include_usage", true);
    long start = System.nanoTime();
    long first = 0;
    int chunks = 0;
    int promptTokens = 0;
    int completionTokens = 0;
    String path = "?";
    String error = null;
    String prefillUrl = null;
    String decodeUrl = null;
    try {
      HttpResponse<Stream<String>> response =
          CLIENT.send(
              HttpRequest.newBuilder(URI.create(gateway + "/v1/completions"))
                  .timeout(Duration.ofSeconds(60))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
                  .build(),
              HttpResponse.BodyHandlers.ofLines());
      String prefill = response.headers().firstValue("x-baton-prefill").orElse(null);
      String decode = response.headers().firstValue("x-baton-decode").orElse(null);
      prefillUrl = prefill;
      decodeUrl = decode;
      path =
          prefill == null
              ? names.getOrDefault(decode, decode == null ? "?" : decode)
              : names.getOrDefault(prefill, prefill) + " -> " + names.getOrDefault(decode, decode);
      if (response.statusCode() != 200) {
        error = "HTTP " + response.statusCode() + " " + String.join("", response.body().toList());
      } else {
        Iterator<String> lines = response.body().iterator();
        while (lines.hasNext()) {
          String line = lines.next();
          if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
            continue;
          }
          JsonNode chunk = Json.parse(line.substring(6));
          if (chunk.has("error")) {
            error = chunk.get("error").path("message").asText(chunk.get("error").toString());
          }
          JsonNode choices = chunk.path("choices");
          if (choices.size() > 0 && !choices.get(0).path("text").asText("").isEmpty()) {
            if (first == 0) {
              first = System.nanoTime();
            }
            chunks++;
          }
          JsonNode usage = chunk.path("usage");
          if (usage.isObject()) {
            promptTokens = usage.path("prompt_tokens").asInt(promptTokens);
            completionTokens = usage.path("completion_tokens").asInt(completionTokens);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      error = e.toString();
    }
    long end = System.nanoTime();
    Map<String, PrometheusText> after = scrapeAll(names.keySet());
    long kvBytes = -1; // -1: unknown
    long hits = 0;
    for (String url : names.keySet()) {
      if (before.get(url) == null || after.get(url) == null) {
        continue;
      }
      double moved = kvBytesReceived(after.get(url)) - kvBytesReceived(before.get(url));
      if (!Double.isNaN(moved)) {
        kvCounters = true;
        kvBytes = Math.max(kvBytes, 0) + Math.round(moved);
      }
      hits += Math.round(prefixHits(after.get(url)) - prefixHits(before.get(url)));
    }
    if (kvBytes < 0
        && bytesPerToken > 0
        && decodeUrl != null
        && before.get(decodeUrl) != null
        && after.get(decodeUrl) != null) {
      // No KV byte counter: the decode worker's prompt tokens that it neither found in its own
      // prefix cache nor computed itself were loaded from the prefill worker.
      long loaded =
          Math.round(
              delta(before.get(decodeUrl), after.get(decodeUrl), "vllm:prompt_tokens_total")
                  - (prefixHits(after.get(decodeUrl)) - prefixHits(before.get(decodeUrl)))
                  - (prefillComputed(after.get(decodeUrl))
                      - prefillComputed(before.get(decodeUrl))));
      kvBytes = prefillUrl == null ? 0 : Math.max(0, loaded) * bytesPerToken;
    }
    int tokens = completionTokens > 0 ? completionTokens : chunks;
    double ttftMs = first == 0 ? Double.NaN : (first - start) / 1e6;
    double e2eMs = (end - start) / 1e6;
    // Output tokens per second of the whole request (TTFT included): robust to chunks that
    // arrive in bursts, and what a client experiences.
    double tps = first == 0 || tokens < 1 ? Double.NaN : tokens / ((end - start) / 1e9);
    return new Result(
        index, label, route, path, promptTokens, tokens, ttftMs, e2eMs, tps, kvBytes, hits, error);
  }

  private static double delta(PrometheusText before, PrometheusText after, String name) {
    return after.sum(name) - before.sum(name);
  }

  /** Prompt tokens the worker computed itself (Baton's step counter, kind=prefill). */
  static double prefillComputed(PrometheusText m) {
    double total = 0;
    for (PrometheusText.Sample s : m.samples()) {
      if (s.name().equals("baton_step_tokens_total") && "prefill".equals(s.labels().get("kind"))) {
        total += s.value();
      }
    }
    return total;
  }

  static double prefixHits(PrometheusText m) {
    return m.firstOf(0, "vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits");
  }

  /**
   * KV bytes a worker pulled from peers: every counter whose name says KV, bytes and a receiving
   * direction (pulled, received, loaded, transferred); {@code NaN} when the worker exports none.
   */
  static double kvBytesReceived(PrometheusText m) {
    double total = Double.NaN;
    for (PrometheusText.Sample s : m.samples()) {
      String n = s.name().toLowerCase(Locale.ROOT);
      if (n.contains("kv")
          && n.contains("bytes")
          && KV_DIRECTION.matcher(n).find()
          && !n.endsWith("_bucket")
          && !n.endsWith("_count")
          && !n.endsWith("_created")
          && !n.contains("sent")
          && !n.contains("served")) {
        total = (Double.isNaN(total) ? 0 : total) + s.value();
      }
    }
    return total;
  }

  private static Map<String, PrometheusText> scrapeAll(Iterable<String> urls) {
    Map<String, PrometheusText> out = new HashMap<>();
    for (String url : urls) {
      try {
        HttpResponse<String> r =
            CLIENT.send(
                HttpRequest.newBuilder(URI.create(url + "/metrics"))
                    .timeout(Duration.ofSeconds(5))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          out.put(url, PrometheusText.parse(r.body()));
        }
      } catch (IOException e) {
        // a worker we cannot read contributes nothing to this request's numbers
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return out;
  }

  private void printResults(List<Result> results) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-3s %-12s %-14s %-22s %7s %7s %9s %9s %10s %8s%n",
        "#",
        "prompt",
        "route",
        "workers",
        "prompt",
        "output",
        "TTFT ms",
        "tok/s",
        "KV bytes",
        "cached");
    for (Result r : results) {
      out.printf(
          Locale.ROOT,
          "%-3d %-12s %-14s %-22s %7d %7d %9s %9s %10s %8d%s%n",
          r.index(),
          r.prompt(),
          r.route(),
          r.path(),
          r.promptTokens(),
          r.completionTokens(),
          fmt(r.ttftMs()),
          fmt(r.tokensPerSecond()),
          human(r.kvBytes()),
          r.prefixHitTokens(),
          r.error() == null ? "" : "  ERROR " + r.error());
    }
  }

  private void printSummary(List<Result> results) {
    out.println();
    out.println("== colocated vs disaggregated (same prompts, same model, same machine)");
    out.printf(
        Locale.ROOT,
        "%-14s %8s %14s %14s %12s %14s%n",
        "route",
        "ok",
        "median TTFT",
        "median tok/s",
        "KV moved",
        "cached tokens");
    Map<String, double[]> medians = new HashMap<>();
    for (String route : List.of("colocated", "disaggregated")) {
      List<Result> rs = results.stream().filter(r -> r.route().equals(route)).toList();
      List<Result> ok = rs.stream().filter(r -> r.error() == null).toList();
      double ttft = median(ok.stream().mapToDouble(Result::ttftMs).toArray());
      double tps = median(ok.stream().mapToDouble(Result::tokensPerSecond).toArray());
      medians.put(route, new double[] {ttft, tps});
      out.printf(
          Locale.ROOT,
          "%-14s %8s %11s ms %14s %12s %14d%n",
          route,
          ok.size() + "/" + rs.size(),
          fmt(ttft),
          fmt(tps),
          human(
              ok.stream().allMatch(r -> r.kvBytes() < 0)
                  ? -1
                  : ok.stream().mapToLong(r -> Math.max(0, r.kvBytes())).sum()),
          ok.stream().mapToLong(Result::prefixHitTokens).sum());
    }
    double[] c = medians.get("colocated");
    double[] d = medians.get("disaggregated");
    if (!Double.isNaN(c[0]) && !Double.isNaN(d[0]) && c[0] > 0) {
      out.printf(
          Locale.ROOT,
          "disaggregated/colocated: TTFT x%.2f, tokens/s x%.2f (on one small machine the P/D hop"
              + " costs time; its gains come with contention between prefill and decode)%n",
          d[0] / c[0],
          c[1] > 0 ? d[1] / c[1] : Double.NaN);
    }
    if (!kvCounters && bytesPerToken > 0) {
      out.println(
          "KV bytes: prompt tokens the decode worker loaded from the prefill worker (its prompt"
              + " tokens minus its own prefix-cache hits and computed tokens) x "
              + bytesPerToken
              + " B/token (2 x layers x kv_heads x head_dim x 4 B, F32 KV)");
    }
    out.println(
        "cached: prompt tokens served from prefix caches (prefill and decode workers both count)");
    long failed = results.stream().filter(r -> r.error() != null).count();
    if (failed > 0) {
      out.println(
          failed + " request(s) failed; see the ERROR column and the logs under the run directory");
    }
  }

  static double median(double[] values) {
    double[] v = java.util.Arrays.stream(values).filter(x -> !Double.isNaN(x)).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
  }

  static String human(long bytes) {
    if (bytes < 0) {
      return "n/a";
    }
    if (bytes == 0) {
      return "0";
    }
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1024 * 1024) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
  }
}
