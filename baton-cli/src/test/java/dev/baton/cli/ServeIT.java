package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.baton.core.Json;
import dev.baton.model.RandomModel;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real {@code baton serve} process on a tiny random model, driven over HTTP. */
class ServeIT {

  static final String KEY = "it-secret";
  @TempDir static Path dir;
  static ServeProcess serve;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    Path model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 7);
    serve =
        new ServeProcess(
            model,
            "--served-model-name",
            "tiny",
            "--api-key",
            KEY,
            "--max-num-batched-tokens",
            "64",
            "--max-model-len",
            "1024");
    http = HttpClient.newHttpClient();
  }

  @AfterAll
  static void stop() {
    if (serve != null) {
      serve.close();
    }
  }

  static HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(serve.baseUrl() + path))
            .header("Authorization", "Bearer " + KEY)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode postJson(String path, String body) throws Exception {
    HttpResponse<String> r = post(path, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return Json.parse(r.body());
  }

  static double metric(String name, String labelPart) throws Exception {
    String text =
        http.send(
                HttpRequest.newBuilder(URI.create(serve.baseUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m =
        Pattern.compile(
                "^"
                    + Pattern.quote(name)
                    + "\\{[^}]*"
                    + Pattern.quote(labelPart)
                    + "[^}]*\\} (\\S+)$",
                Pattern.MULTILINE)
            .matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  static List<Integer> ids(JsonNode arr) {
    List<Integer> out = new ArrayList<>();
    arr.forEach(n -> out.add(n.asInt()));
    return out;
  }

  /** Token ids of a streamed completion (from return_token_ids chunks). */
  static List<Integer> streamIds(String body) throws Exception {
    HttpResponse<String> r = post("/v1/completions", body);
    assertThat(r.statusCode()).isEqualTo(200);
    List<Integer> out = new ArrayList<>();
    String[] lines = r.body().split("\n");
    assertThat(r.body().strip()).endsWith("data: [DONE]");
    for (String line : lines) {
      if (line.startsWith("data: {")) {
        JsonNode c = Json.parse(line.substring(6)).path("choices");
        if (!c.isEmpty()) {
          out.addAll(ids(c.get(0).path("token_ids")));
        }
      }
    }
    return out;
  }

  /** The worker's KV capacity as `baton sim calibrate` reads it: the blocks it printed at start. */
  @Test
  void theKvCapacityInTheMetricsIsThePoolTheWorkerPrinted() throws Exception {
    Matcher printed = Pattern.compile("(\\d+) KV blocks of (\\d+) tokens").matcher(serve.output());
    assertThat(printed.find()).isTrue();
    String metrics =
        http.send(
                HttpRequest.newBuilder(URI.create(serve.baseUrl() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    assertThat(CalibrationFits.kvCapacityOf(metrics))
        .isEqualTo(Long.parseLong(printed.group(1)) * Long.parseLong(printed.group(2)));
  }

  /**
   * A worker whose port is taken exits with an error naming the port (it used to log Helidon's
   * failure and stay up on port -1, so {@code baton up} waited for a health check that could never
   * pass).
   */
  @Test
  void aPortInUseEndsTheWorkerWithAClearError() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
      taken.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      int port = taken.getLocalPort();
      Process worker =
          new ProcessBuilder(
                  CliProcess.command(
                      List.of(),
                      List.of(
                          "serve",
                          "-m",
                          dir.resolve("tiny.gguf").toString(),
                          "--port",
                          Integer.toString(port),
                          "--threads",
                          "1")))
              .redirectErrorStream(true)
              .start();
      try {
        assertThat(worker.waitFor(90, java.util.concurrent.TimeUnit.SECONDS))
            .as("the worker exits")
            .isTrue();
        String output = new String(worker.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(worker.exitValue()).isNotZero();
        assertThat(output)
            .contains("cannot listen on 127.0.0.1:" + port)
            .doesNotContain("on http://127.0.0.1:-1");
      } finally {
        CliProcess.stop(worker);
      }
    }
    assertThat(serve.alive()).isTrue();
  }

  @Test
  void concurrentGreedyStreamsEqualOneAtATime() throws Exception {
    List<String> prompts = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      prompts.add("Request number " + i + " asks about " + "topic ".repeat(3 + 5 * i));
    }
    String template =
        "{\"model\":\"tiny\",\"prompt\":%s,\"max_tokens\":20,\"temperature\":0,"
            + "\"ignore_eos\":true,\"return_token_ids\":true%s}";
    List<List<Integer>> sequential = new ArrayList<>();
    for (String p : prompts) {
      JsonNode j = postJson("/v1/completions", template.formatted(Json.write(p), ""));
      sequential.add(ids(j.at("/choices/0/token_ids")));
      assertThat(sequential.getLast()).hasSize(20);
    }
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<List<Integer>>> streams = new ArrayList<>();
      for (String p : prompts) {
        streams.add(
            pool.submit(() -> streamIds(template.formatted(Json.write(p), ",\"stream\":true"))));
      }
      for (int i = 0; i < prompts.size(); i++) {
        assertThat(streams.get(i).get()).as("prompt %d", i).isEqualTo(sequential.get(i));
      }
    }
  }

  @Test
  void sharedPrefixHitsTheCacheAndSkipsPrefillWork() throws Exception {
    String prefix = "A long shared system prompt about caching. ".repeat(12);
    double hits0 = metric("vllm:prefix_cache_hits_total", "model_name=\"tiny\"");
    double prefill0 = metric("baton_step_tokens_total", "kind=\"prefill\"");
    JsonNode first =
        postJson(
            "/v1/completions",
            "{\"prompt\":" + Json.write(prefix + "first question") + ",\"max_tokens\":2}");
    double prefill1 = metric("baton_step_tokens_total", "kind=\"prefill\"");
    JsonNode second =
        postJson(
            "/v1/completions",
            "{\"prompt\":" + Json.write(prefix + "second question") + ",\"max_tokens\":2}");
    double prefill2 = metric("baton_step_tokens_total", "kind=\"prefill\"");
    double hits2 = metric("vllm:prefix_cache_hits_total", "model_name=\"tiny\"");
    int promptTokens = second.at("/usage/prompt_tokens").asInt();
    int cached = second.at("/usage/prompt_tokens_details/cached_tokens").asInt();
    assertThat(first.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isZero();
    assertThat(cached).isGreaterThanOrEqualTo(promptTokens / 2).isEqualTo((int) (hits2 - hits0));
    assertThat(prefill2 - prefill1).isEqualTo(promptTokens - cached);
    assertThat(prefill2 - prefill1).isLessThan((prefill1 - prefill0) / 2);
    // A different cache_salt shares nothing.
    JsonNode salted =
        postJson(
            "/v1/completions",
            "{\"prompt\":"
                + Json.write(prefix + "second question")
                + ",\"max_tokens\":2,\"cache_salt\":\"tenant-b\"}");
    assertThat(salted.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isZero();
  }

  @Test
  void resetPrefixCacheMakesTheNextRequestComputeItsWholePrompt() throws Exception {
    String body =
        "{\"prompt\":"
            + Json.write("A prompt cached once, then forgotten on request. ".repeat(12))
            + ",\"max_tokens\":1}";
    postJson("/v1/completions", body);
    assertThat(postJson("/v1/completions", body).at("/usage/prompt_tokens_details/cached_tokens"))
        .extracting(JsonNode::asInt)
        .isNotEqualTo(0);
    HttpResponse<String> anonymous =
        http.send(
            HttpRequest.newBuilder(URI.create(serve.baseUrl() + "/reset_prefix_cache"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(postJson("/reset_prefix_cache", "").path("forgotten_blocks").asInt()).isPositive();
    assertThat(
            postJson("/v1/completions", body)
                .at("/usage/prompt_tokens_details/cached_tokens")
                .asInt())
        .isZero();
  }

  @Test
  void nSeedStopAndLogprobsBehaveAsDocumented() throws Exception {
    String sampled =
        "{\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":1.0,\"seed\":123,"
            + "\"n\":3,\"ignore_eos\":true}";
    JsonNode a = postJson("/v1/completions", sampled);
    JsonNode b = postJson("/v1/completions", sampled);
    assertThat(a.get("choices")).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(a.at("/choices/" + i + "/index").asInt()).isEqualTo(i);
      assertThat(a.at("/choices/" + i + "/text")).isEqualTo(b.at("/choices/" + i + "/text"));
    }
    assertThat(a.at("/usage/completion_tokens").asInt()).isEqualTo(36);
    JsonNode other = postJson("/v1/completions", sampled.replace("\"seed\":123", "\"seed\":124"));
    assertThat(other.at("/choices/0/text")).isNotEqualTo(a.at("/choices/0/text"));

    String greedy =
        "{\"prompt\":\"The stop test\",\"max_tokens\":30,\"temperature\":0,\"ignore_eos\":true}";
    String full = postJson("/v1/completions", greedy).at("/choices/0/text").asText();
    String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
    JsonNode stopped =
        postJson("/v1/completions", greedy.replace("}", ",\"stop\":[" + Json.write(stop) + "]}"));
    assertThat(stopped.at("/choices/0/text").asText())
        .isEqualTo(full.substring(0, full.indexOf(stop)));
    assertThat(stopped.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    assertThat(stopped.at("/choices/0/stop_reason").asText()).isEqualTo(stop);

    JsonNode lp =
        postJson(
            "/v1/completions",
            "{\"prompt\":\"logprobs\",\"max_tokens\":4,\"temperature\":0,\"logprobs\":3,\"ignore_eos\":true}");
    JsonNode l = lp.at("/choices/0/logprobs");
    assertThat(l.get("tokens")).hasSize(4);
    assertThat(l.get("token_logprobs")).hasSize(4);
    for (int i = 0; i < 4; i++) {
      double chosen = l.get("token_logprobs").get(i).asDouble();
      assertThat(chosen).isLessThanOrEqualTo(0);
      // A dict keyed by token text (OpenAI's legacy shape): tokens with equal text collapse.
      JsonNode top = l.get("top_logprobs").get(i);
      assertThat(top.size()).isBetween(1, 4);
      assertThat(top.get(l.get("tokens").get(i).asText()).asDouble()).isEqualTo(chosen);
      // greedy: the chosen token is the most likely one
      top.forEach(v -> assertThat(v.asDouble()).isLessThanOrEqualTo(chosen + 1e-6));
    }
    JsonNode chat =
        postJson(
            "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
                + "\"logprobs\":true,\"top_logprobs\":2,\"ignore_eos\":true,\"temperature\":0}");
    assertThat(chat.at("/choices/0/logprobs/content")).hasSize(3);
    for (JsonNode item : chat.at("/choices/0/logprobs/content")) {
      JsonNode alts = item.get("top_logprobs");
      assertThat(alts).hasSize(2);
      assertThat(alts.get(0).get("logprob").asDouble()).isEqualTo(item.get("logprob").asDouble());
      assertThat(alts.get(1).get("logprob").asDouble())
          .isLessThanOrEqualTo(alts.get(0).get("logprob").asDouble());
    }
  }

  @Test
  void officialOpenAiClientStreamingAndNot() throws Exception {
    OpenAIClient client =
        OpenAIOkHttpClient.builder().baseUrl(serve.baseUrl() + "/v1").apiKey(KEY).build();
    Completion c =
        client
            .completions()
            .create(
                CompletionCreateParams.builder()
                    .model("tiny")
                    .prompt("Hello from the SDK")
                    .maxTokens(8)
                    .temperature(0.0)
                    .build());
    assertThat(c.id()).startsWith("cmpl-");
    assertThat(c.choices()).hasSize(1);
    assertThat(c.usage().orElseThrow().promptTokens()).isPositive();

    ChatCompletionCreateParams chatParams =
        ChatCompletionCreateParams.builder()
            .model("tiny")
            .addUserMessage("Say something")
            .maxCompletionTokens(6)
            .temperature(0.0)
            .build();
    ChatCompletion chat = client.chat().completions().create(chatParams);
    String whole = chat.choices().getFirst().message().content().orElse("");
    assertThat(chat.choices().getFirst().finishReason().asString()).isIn("stop", "length");

    StringBuilder streamed = new StringBuilder();
    long[] usage = {-1};
    try (StreamResponse<ChatCompletionChunk> s =
        client
            .chat()
            .completions()
            .createStreaming(
                chatParams.toBuilder()
                    .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                    .build())) {
      s.stream()
          .forEach(
              chunk -> {
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
                chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
              });
    }
    assertThat(streamed.toString()).isEqualTo(whole);
    assertThat(usage[0]).isEqualTo(chat.usage().orElseThrow().completionTokens());

    StringBuilder completionStream = new StringBuilder();
    try (StreamResponse<Completion> s =
        client
            .completions()
            .createStreaming(
                CompletionCreateParams.builder()
                    .model("tiny")
                    .prompt("Hello from the SDK")
                    .maxTokens(8)
                    .temperature(0.0)
                    .build())) {
      s.stream()
          .forEach(chunk -> chunk.choices().forEach(ch -> completionStream.append(ch.text())));
    }
    assertThat(completionStream.toString()).isEqualTo(c.choices().getFirst().text());
  }

  @Test
  void apiKeyErrorsAndModelsEndpoints() throws Exception {
    HttpResponse<String> noKey =
        http.send(
            HttpRequest.newBuilder(URI.create(serve.baseUrl() + "/v1/models")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(noKey.statusCode()).isEqualTo(401);
    JsonNode models =
        Json.parse(
            http.send(
                    HttpRequest.newBuilder(URI.create(serve.baseUrl() + "/v1/models"))
                        .header("Authorization", "Bearer " + KEY)
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertThat(models.at("/data/0/id").asText()).isEqualTo("tiny");
    HttpResponse<String> tooLong =
        post("/v1/completions", "{\"prompt\":" + Json.write("word ".repeat(2000)) + "}");
    assertThat(tooLong.statusCode()).isEqualTo(400);
    assertThat(Json.parse(tooLong.body()).at("/error/code").asText())
        .isEqualTo("context_length_exceeded");
    assertThat(post("/v1/completions", "{\"prompt\":[999999]}").statusCode()).isEqualTo(400);
    assertThat(post("/v1/completions", "{\"model\":\"other\",\"prompt\":\"x\"}").statusCode())
        .isEqualTo(404);
    JsonNode tok = postJson("/tokenize", "{\"prompt\":\"hello world\"}");
    JsonNode detok = postJson("/detokenize", "{\"tokens\":" + tok.get("tokens") + "}");
    assertThat(detok.get("prompt").asText()).endsWith("hello world");
  }

  @Test
  void clientDisconnectMidStreamFreesEverything() throws Exception {
    String body = "{\"prompt\":\"endless\",\"max_tokens\":900,\"stream\":true,\"ignore_eos\":true}";
    try (Socket s =
        new Socket("127.0.0.1", Integer.parseInt(serve.baseUrl().replaceAll(".*:", "")))) {
      String req =
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + KEY
              + "\r\nContent-Type: application/json\r\nContent-Length: "
              + body.length()
              + "\r\n\r\n"
              + body;
      s.getOutputStream().write(req.getBytes(StandardCharsets.UTF_8));
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      int chunks = 0;
      while (chunks < 3) {
        int n = in.read(buf);
        assertThat(n).isPositive();
        chunks += new String(buf, 0, n, StandardCharsets.UTF_8).split("data: ", -1).length - 1;
      }
      assertThat(metric("vllm:num_requests_running", "tiny")).isEqualTo(1);
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> metric("vllm:num_requests_running", "tiny") == 0);
    assertThat(metric("vllm:kv_cache_usage_perc", "tiny")).isZero();
    assertThat(metric("vllm:request_success_total", "finished_reason=\"abort\"")).isPositive();
    double generated = metric("vllm:generation_tokens_total", "tiny");
    await().pollDelay(Duration.ofMillis(300)).until(() -> true);
    assertThat(metric("vllm:generation_tokens_total", "tiny")).isEqualTo(generated);
    assertThat(serve.alive()).isTrue();
  }
}
