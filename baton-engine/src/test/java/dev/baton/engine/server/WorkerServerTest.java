package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.HttpTimeouts;
import dev.baton.core.Json;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.sched.Detokenizer;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.Scheduler;
import dev.baton.engine.sched.SchedulerConfig;
import dev.baton.engine.sched.TokenSampler;
import dev.baton.kv.KvConnector;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP layer over a real engine loop and a small deterministic runner whose step time can be
 * slowed down (to catch requests mid-flight). Real HTTP through the JDK client and raw sockets.
 */
class WorkerServerTest {

  static final int VOCAB = 101;
  static final int NUM_BLOCKS = 256;

  /** A runner whose next token is a function of the whole sequence read back from the KV. */
  static final class SlowRunner implements ModelRunner {
    final KvBlockPool pool = new KvBlockPool(NUM_BLOCKS, 16, 1, 1, 1, KvBlockPool.Dtype.F32);
    final AtomicLong tokens = new AtomicLong();
    volatile long stepNanos;

    /** While set and not yet counted down, every step waits for it (the engine holds still). */
    volatile java.util.concurrent.CountDownLatch gate;

    @Override
    public List<float[]> forward(List<SeqChunk> batch) {
      java.util.concurrent.CountDownLatch g = gate;
      if (g != null) {
        try {
          g.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      List<float[]> out = new ArrayList<>();
      for (SeqChunk c : batch) {
        tokens.addAndGet(c.tokens().length);
        for (int i = 0; i < c.tokens().length; i++) {
          int pos = c.startPos() + i;
          pool.memory()
              .set(
                  java.lang.foreign.ValueLayout.JAVA_FLOAT,
                  pool.runOffset(c.blockTable()[pos / 16], 0, 0, 0) + (pos % 16) * 4L,
                  c.tokens()[i]);
        }
        if (!c.wantLogits()) {
          out.add(null);
          continue;
        }
        long h = 7;
        int len = c.startPos() + c.tokens().length;
        for (int pos = 0; pos < len; pos++) {
          float v =
              pool.memory()
                  .get(
                      java.lang.foreign.ValueLayout.JAVA_FLOAT,
                      pool.runOffset(c.blockTable()[pos / 16], 0, 0, 0) + (pos % 16) * 4L);
          h = (h * 31 + (int) v + pos) % 1_000_003;
        }
        int next = 1 + (int) (h % 26); // letters only, so text is predictable
        float[] logits = new float[VOCAB];
        for (int v = 0; v < VOCAB; v++) {
          logits[v] = -0.3f * Math.floorMod(v - next, VOCAB);
        }
        out.add(logits);
      }
      if (stepNanos > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(stepNanos);
      }
      return out;
    }

    @Override
    public int vocabSize() {
      return VOCAB;
    }

    @Override
    public int contextLength() {
      return 512;
    }

    @Override
    public KvBlockPool kvPool() {
      return pool;
    }

    @Override
    public void close() {
      pool.close();
    }
  }

  /** Letters tokenizer: 1..26 = a..z, 27 = space, 100 = BOS; other ids decode to "?". */
  static final class LetterText implements ModelText {
    @Override
    public int[] encode(String s, boolean addSpecial) {
      int[] out = new int[s.length() + (addSpecial ? 1 : 0)];
      int i = 0;
      if (addSpecial) {
        out[i++] = 100;
      }
      for (char c : s.toCharArray()) {
        out[i++] = c >= 'a' && c <= 'z' ? c - 'a' + 1 : c == ' ' ? 27 : 28 + c % 70;
      }
      return out;
    }

    @Override
    public String decode(int[] tokens) {
      StringBuilder sb = new StringBuilder();
      for (int t : tokens) {
        if (t != 100) {
          sb.append(tokenText(t));
        }
      }
      return sb.toString();
    }

    @Override
    public String tokenText(int t) {
      return t >= 1 && t <= 26 ? Character.toString('a' + t - 1) : t == 27 ? " " : "?";
    }

    @Override
    public Detokenizer detokenizer() {
      return this::tokenText;
    }

    @Override
    public int[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
      StringBuilder sb = new StringBuilder();
      for (ChatMessage m : messages) {
        sb.append(m.role()).append(' ').append(m.content()).append(' ');
      }
      return encode(sb.toString(), true);
    }

    @Override
    public Set<Integer> eosTokenIds() {
      return Set.of(0);
    }

    @Override
    public int vocabSize() {
      return VOCAB;
    }
  }

  static final SamplerFactory SAMPLERS =
      s -> {
        Random rnd = s.seed() == null ? new Random() : new Random(s.seed());
        return (TokenSampler)
            (logits, tokens, promptLen, numTokens) -> {
              int best = 0;
              for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) {
                  best = i;
                }
              }
              if (s.temperature() == 0) {
                return best;
              }
              // Seeded sampling among the 5 best (enough to tell seeds apart).
              return Math.floorMod(best + rnd.nextInt(5), 26) + 1;
            };
      };

  static SlowRunner runner;
  static Engine engine;
  static WorkerServer server;
  static EngineMetrics metrics;
  static HttpClient http;
  static String base;

  @BeforeAll
  static void start() {
    runner = new SlowRunner();
    metrics = new EngineMetrics("letters");
    engine = startEngine(runner, metrics);
    server =
        new WorkerServer(
                new ServerConfig(
                    "127.0.0.1", 0, "letters", "sekret", 64 * 1024, "both", HttpTimeouts.DEFAULTS),
                engine,
                new LetterText(),
                SAMPLERS,
                metrics)
            .start();
    http = HttpClient.newHttpClient();
    base = "http://127.0.0.1:" + server.port();
  }

  /** A started engine over the letters model, its metrics bound. */
  static Engine startEngine(SlowRunner runner, EngineMetrics metrics) {
    Engine e =
        new Engine(
                new Scheduler(
                    new SchedulerConfig(16, 256, 16, 512, 64, true, "letters", "F32"),
                    runner,
                    KvConnector.NONE,
                    metrics))
            .start();
    metrics.bind(e);
    return e;
  }

  @AfterAll
  static void stop() {
    server.close();
    engine.close();
    runner.close();
  }

  static HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(base + path))
            .header("Authorization", "Bearer sekret")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> get(String path, boolean auth) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path));
    if (auth) {
      b.header("Authorization", "Bearer sekret");
    }
    return http.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void completionHasVllmShapeAndUsage() throws Exception {
    HttpResponse<String> r =
        post(
            "/v1/completions",
            "{\"model\":\"letters\",\"prompt\":\"hello world\",\"max_tokens\":5,"
                + "\"temperature\":0,\"return_token_ids\":true}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = Json.parse(r.body());
    assertThat(j.get("id").asText()).startsWith("cmpl-");
    assertThat(j.get("object").asText()).isEqualTo("text_completion");
    assertThat(j.get("model").asText()).isEqualTo("letters");
    assertThat(j.get("created").asLong()).isPositive();
    JsonNode c = j.get("choices").get(0);
    assertThat(c.get("text").asText()).hasSize(5);
    assertThat(c.get("finish_reason").asText()).isEqualTo("length");
    assertThat(c.get("token_ids")).hasSize(5);
    assertThat(c.get("prompt_token_ids")).hasSize(12);
    assertThat(j.at("/usage/prompt_tokens").asInt()).isEqualTo(12);
    assertThat(j.at("/usage/completion_tokens").asInt()).isEqualTo(5);
    assertThat(j.at("/usage/total_tokens").asInt()).isEqualTo(17);
    assertThat(j.has("kv_transfer_params")).isTrue();
  }

  @Test
  void batchPromptsAndNGiveOneChoicePerPromptAndSample() throws Exception {
    HttpResponse<String> r =
        post(
            "/v1/completions",
            "{\"prompt\":[\"abc\",[1,2,3,4]],\"n\":2,\"max_tokens\":4,\"temperature\":0}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = Json.parse(r.body());
    assertThat(j.get("choices")).hasSize(4);
    for (int i = 0; i < 4; i++) {
      assertThat(j.get("choices").get(i).get("index").asInt()).isEqualTo(i);
    }
    // greedy: both samples of a prompt agree
    assertThat(j.at("/choices/0/text")).isEqualTo(j.at("/choices/1/text"));
    assertThat(j.at("/usage/prompt_tokens").asInt()).isEqualTo(4 + 4);
    assertThat(j.at("/usage/completion_tokens").asInt()).isEqualTo(16);
  }

  @Test
  void seedMakesSamplingRepeatable() throws Exception {
    String body = "{\"prompt\":\"seeded\",\"max_tokens\":12,\"temperature\":1,\"seed\":%d}";
    String a =
        Json.parse(post("/v1/completions", body.formatted(5)).body())
            .at("/choices/0/text")
            .asText();
    String b =
        Json.parse(post("/v1/completions", body.formatted(5)).body())
            .at("/choices/0/text")
            .asText();
    String c =
        Json.parse(post("/v1/completions", body.formatted(6)).body())
            .at("/choices/0/text")
            .asText();
    assertThat(a).isEqualTo(b).isNotEqualTo(c);
  }

  @Test
  void chatCompletionAndLogprobs() throws Exception {
    HttpResponse<String> r =
        post(
            "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}],\"max_tokens\":3,"
                + "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":2}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = Json.parse(r.body());
    assertThat(j.get("id").asText()).startsWith("chatcmpl-");
    assertThat(j.get("object").asText()).isEqualTo("chat.completion");
    assertThat(j.at("/choices/0/message/role").asText()).isEqualTo("assistant");
    assertThat(j.at("/choices/0/message/content").asText()).hasSize(3);
    JsonNode lp = j.at("/choices/0/logprobs/content");
    assertThat(lp).hasSize(3);
    assertThat(lp.get(0).get("top_logprobs")).hasSize(2);
    assertThat(lp.get(0).get("logprob").asDouble()).isNegative();
    assertThat(lp.get(0).get("token").asText())
        .isEqualTo(lp.get(0).at("/top_logprobs/0/token").asText());
  }

  @Test
  void streamingEndsWithDoneAndUsage() throws Exception {
    HttpResponse<String> r =
        post(
            "/v1/completions",
            "{\"prompt\":\"stream me\",\"max_tokens\":6,\"temperature\":0,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/event-stream");
    List<String> events = new ArrayList<>();
    for (String line : r.body().split("\n")) {
      if (line.startsWith("data: ")) {
        events.add(line.substring(6));
      }
    }
    assertThat(events.getLast()).isEqualTo("[DONE]");
    JsonNode usage = Json.parse(events.get(events.size() - 2));
    assertThat(usage.get("choices")).isEmpty();
    assertThat(usage.at("/usage/completion_tokens").asInt()).isEqualTo(6);
    StringBuilder text = new StringBuilder();
    for (String e : events.subList(0, events.size() - 2)) {
      text.append(Json.parse(e).at("/choices/0/text").asText());
    }
    String whole =
        Json.parse(
                post(
                        "/v1/completions",
                        "{\"prompt\":\"stream me\",\"max_tokens\":6,\"temperature\":0}")
                    .body())
            .at("/choices/0/text")
            .asText();
    assertThat(text.toString()).isEqualTo(whole);
    assertThat(Json.parse(events.get(events.size() - 3)).at("/choices/0/finish_reason").asText())
        .isEqualTo("length");
  }

  @Test
  void stopStringEndsWithStopReason() throws Exception {
    String whole =
        Json.parse(
                post("/v1/completions", "{\"prompt\":\"xyz\",\"max_tokens\":20,\"temperature\":0}")
                    .body())
            .at("/choices/0/text")
            .asText();
    String stop = whole.substring(5, 7);
    JsonNode j =
        Json.parse(
            post(
                    "/v1/completions",
                    "{\"prompt\":\"xyz\",\"max_tokens\":20,\"temperature\":0,\"stop\":[\""
                        + stop
                        + "\"]}")
                .body());
    assertThat(j.at("/choices/0/text").asText()).isEqualTo(whole.substring(0, whole.indexOf(stop)));
    assertThat(j.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    assertThat(j.at("/choices/0/stop_reason").asText()).isEqualTo(stop);
  }

  @Test
  void tokenizeDetokenizeModelsHealthMetrics() throws Exception {
    JsonNode t = Json.parse(post("/tokenize", "{\"prompt\":\"ab\"}").body());
    assertThat(t.get("count").asInt()).isEqualTo(3);
    assertThat(t.get("tokens").toString()).isEqualTo("[100,1,2]");
    assertThat(
            Json.parse(post("/detokenize", "{\"tokens\":[1,2,27,3]}").body())
                .get("prompt")
                .asText())
        .isEqualTo("ab c");
    JsonNode m = Json.parse(get("/v1/models", true).body());
    assertThat(m.at("/data/0/id").asText()).isEqualTo("letters");
    assertThat(m.at("/data/0/max_model_len").asInt()).isEqualTo(512);
    assertThat(get("/health", false).statusCode()).isEqualTo(200);
    post("/v1/completions", "{\"prompt\":\"metrics\",\"max_tokens\":2}");
    HttpResponse<String> metricsText = get("/metrics", false);
    assertThat(metricsText.statusCode()).isEqualTo(200);
    assertThat(metricsText.body())
        .contains("vllm:num_requests_running{model_name=\"letters\"}")
        .contains("vllm:num_requests_waiting{")
        .contains("vllm:kv_cache_usage_perc{")
        .contains("vllm:gpu_cache_usage_perc{")
        .contains("vllm:prefix_cache_queries_total{")
        .contains("vllm:prefix_cache_hits_total{")
        .contains("vllm:prompt_tokens_total{")
        .contains("vllm:generation_tokens_total{")
        .contains("vllm:time_to_first_token_seconds_bucket{")
        .contains("vllm:inter_token_latency_seconds_bucket{")
        .contains("vllm:e2e_request_latency_seconds_bucket{")
        .contains("vllm:request_success_total{finished_reason=\"length\",model_name=\"letters\"}")
        // vLLM's info metric: a gauge at 1 whose labels are the KV cache's settings.
        .contains("# TYPE vllm:cache_config_info gauge")
        .contains(
            "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"float32\","
                + "enable_prefix_caching=\"True\",engine=\"0\",num_gpu_blocks=\""
                + engine.kvBlocks()
                + "\"} 1");
  }

  @Test
  void apiKeyGuardsEverythingButHealthAndMetrics() throws Exception {
    assertThat(get("/v1/models", false).statusCode()).isEqualTo(401);
    HttpResponse<String> wrong =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Authorization", "Bearer nope")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"a\"}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(Json.parse(wrong.body()).at("/error/type").asText())
        .isEqualTo("authentication_error");
    assertThat(get("/metrics", false).statusCode()).isEqualTo(200);
  }

  /** A corpus of malformed and hostile requests: each gets its OpenAI-shaped error, none hurts. */
  @Test
  void hostileCorpusGetsErrorsAndTheWorkerKeepsServing() throws Exception {
    List<String[]> cases = new ArrayList<>();
    String[] bodies = {
      "",
      "{",
      "[]",
      "null",
      "42",
      "\"x\"",
      "{\"prompt\":}",
      "{\"prompt\": \"a\",}",
      "{\"prompt\":null}",
      "{}",
      "{\"prompt\":[]}",
      "{\"prompt\":[[]]}",
      "{\"prompt\":[1.5]}",
      "{\"prompt\":[-1]}",
      "{\"prompt\":[101]}",
      "{\"prompt\":[99999999999]}",
      "{\"prompt\":{\"a\":1}}",
      "{\"prompt\":[\"a\",3]}",
      "{\"prompt\":true}",
      "{\"prompt\":\"a\",\"max_tokens\":0}",
      "{\"prompt\":\"a\",\"max_tokens\":-5}",
      "{\"prompt\":\"a\",\"max_tokens\":\"10\"}",
      "{\"prompt\":\"a\",\"max_tokens\":100000}",
      "{\"prompt\":\"a\",\"max_tokens\":1.5}",
      "{\"prompt\":\"a\",\"temperature\":-1}",
      "{\"prompt\":\"a\",\"temperature\":\"hot\"}",
      "{\"prompt\":\"a\",\"top_p\":0}",
      "{\"prompt\":\"a\",\"top_p\":1.5}",
      "{\"prompt\":\"a\",\"top_k\":-2}",
      "{\"prompt\":\"a\",\"min_p\":2}",
      "{\"prompt\":\"a\",\"n\":0}",
      "{\"prompt\":\"a\",\"n\":1000}",
      "{\"prompt\":\"a\",\"seed\":\"s\"}",
      "{\"prompt\":\"a\",\"seed\":1e400}",
      "{\"prompt\":\"a\",\"stop\":5}",
      "{\"prompt\":\"a\",\"stop\":[\"\"]}",
      "{\"prompt\":\"a\",\"stop\":[1]}",
      "{\"prompt\":\"a\",\"presence_penalty\":3}",
      "{\"prompt\":\"a\",\"frequency_penalty\":-3}",
      "{\"prompt\":\"a\",\"repetition_penalty\":0}",
      "{\"prompt\":\"a\",\"logprobs\":50}",
      "{\"prompt\":\"a\",\"logprobs\":true}",
      "{\"prompt\":\"a\",\"stream\":\"yes\"}",
      "{\"prompt\":\"a\",\"stream_options\":{}}",
      "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":5}",
      "{\"prompt\":\"a\",\"echo\":true}",
      "{\"prompt\":\"a\",\"min_tokens\":10,\"max_tokens\":2}",
      "{\"prompt\":\"a\",\"ignore_eos\":1}",
      "{\"prompt\":\"a\",\"cache_salt\":\"\"}",
      "{\"prompt\":\"a\",\"cache_salt\":7}",
      "{\"prompt\":\"a\",\"kv_transfer_params\":[1]}",
      "{\"prompt\":\"a\",\"user\":[1]}",
      "{\"prompt\":\"a\",\"stop_token_ids\":[-1]}",
      "{\"prompt\":\"a\",\"best_of\":3}",
      "{\"prompt\":\"a\",\"return_token_ids\":\"y\"}",
      "{\"prompt\":\"" + "a".repeat(600) + "\"}",
      "{\"prompt\":\"a\",\"suffix\":\"b\"}",
    };
    for (String b : bodies) {
      cases.add(new String[] {"/v1/completions", b, "400"});
    }
    String[] chat = {
      "{}",
      "{\"messages\":[]}",
      "{\"messages\":\"hi\"}",
      "{\"messages\":[1]}",
      "{\"messages\":[{\"content\":\"x\"}]}",
      "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":99}",
      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}",
    };
    for (String b : chat) {
      cases.add(new String[] {"/v1/chat/completions", b, "400"});
    }
    cases.add(new String[] {"/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"a\"}", "404"});
    cases.add(new String[] {"/v1/completions", "{\"model\":5,\"prompt\":\"a\"}", "400"});
    cases.add(new String[] {"/v2/nothing", "{}", "404"});
    cases.add(new String[] {"/tokenize", "{}", "400"});
    cases.add(new String[] {"/detokenize", "{\"tokens\":[1000]}", "400"});
    cases.add(new String[] {"/detokenize", "{\"tokens\":\"ab\"}", "400"});
    cases.add(
        new String[] {"/v1/completions", "{\"prompt\":\"" + "x".repeat(70_000) + "\"}", "413"});
    Random rnd = new Random(99);
    for (int i = 0; i < 150; i++) {
      byte[] junk = new byte[1 + rnd.nextInt(200)];
      rnd.nextBytes(junk);
      cases.add(
          new String[] {"/v1/completions", new String(junk, StandardCharsets.ISO_8859_1), "400"});
    }
    for (String[] c : cases) {
      HttpResponse<String> r = post(c[0], c[1]);
      assertThat(r.statusCode()).as(c[1]).isEqualTo(Integer.parseInt(c[2]));
      JsonNode err = Json.parse(r.body()).get("error");
      assertThat(err).as(c[1]).isNotNull();
      assertThat(err.get("message").asText()).isNotEmpty();
      assertThat(err.has("type") && err.has("param") && err.has("code")).isTrue();
    }
    // Raw garbage on the socket: the server drops that connection and carries on.
    for (String garbage :
        List.of(
            "GARBAGE\r\n\r\n",
            "POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{")) {
      try (Socket s = new Socket("127.0.0.1", server.port())) {
        s.setSoTimeout(5000);
        s.getOutputStream().write(garbage.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        s.getInputStream().read(new byte[4096]);
      } catch (java.io.IOException expected) {
        // a reset is fine
      }
    }
    HttpResponse<String> ok = post("/v1/completions", "{\"prompt\":\"still ok\",\"max_tokens\":3}");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(Json.parse(ok.body()).at("/usage/completion_tokens").asInt()).isEqualTo(3);
    await().atMost(Duration.ofSeconds(5)).until(() -> engine.kvUsage() == 0);
  }

  /** A streaming client that hangs up mid-stream: its request stops computing at once. */
  @Test
  void clientDisconnectMidStreamAbortsTheRequest() throws Exception {
    runner.stepNanos = 5_000_000;
    try {
      String body = "{\"prompt\":\"long one\",\"max_tokens\":400,\"stream\":true}";
      try (Socket s = new Socket("127.0.0.1", server.port())) {
        String req =
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekret\r\n"
                + "Content-Type: application/json\r\nContent-Length: "
                + body.length()
                + "\r\n\r\n"
                + body;
        s.getOutputStream().write(req.getBytes(StandardCharsets.UTF_8));
        InputStream in = s.getInputStream();
        byte[] buf = new byte[8192];
        int seen = 0;
        while (seen < 3) {
          int n = in.read(buf);
          assertThat(n).isPositive();
          seen += countData(buf, n);
        }
        assertThat(engine.numRunning()).isEqualTo(1);
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> engine.numRunning() == 0);
      long after = runner.tokens.get();
      await().pollDelay(Duration.ofMillis(100)).until(() -> true);
      assertThat(runner.tokens.get()).isEqualTo(after);
      assertThat(engine.kvUsage()).isZero();
    } finally {
      runner.stepNanos = 0;
    }
  }

  private static int countData(byte[] buf, int n) {
    String s = new String(buf, 0, n, StandardCharsets.UTF_8);
    int count = 0;
    for (int i = s.indexOf("data: "); i >= 0; i = s.indexOf("data: ", i + 1)) {
      count++;
    }
    return count;
  }

  /** Past --max-waiting the worker sheds load with 429 instead of queueing without bound. */
  @Test
  void overloadGets429AndEveryAcceptedRequestCompletes() throws Exception {
    // The engine is held in its first step while 120 requests arrive, so the 64-deep waiting queue
    // overflows however slowly the machine delivers them (it used to be timing: slow steps and a
    // burst, which a loaded machine spread out until nothing overflowed).
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    runner.gate = gate;
    try {
      List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
      for (int i = 0; i < 120; i++) {
        all.add(
            http.sendAsync(
                HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .header("Authorization", "Bearer sekret")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            "{\"prompt\":\"load " + i + "\",\"max_tokens\":4}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString()));
      }
      // Nothing finishes while the gate is shut, except what the worker turns away at the door.
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> all.stream().anyMatch(java.util.concurrent.CompletableFuture::isDone));
      gate.countDown();
      int ok = 0;
      int shed = 0;
      for (var f : all) {
        HttpResponse<String> r = f.get(60, java.util.concurrent.TimeUnit.SECONDS);
        if (r.statusCode() == 200) {
          ok++;
          assertThat(Json.parse(r.body()).at("/usage/completion_tokens").asInt()).isEqualTo(4);
        } else {
          assertThat(r.statusCode()).isEqualTo(429);
          assertThat(r.headers().firstValue("retry-after")).contains("1");
          assertThat(Json.parse(r.body()).at("/error/type").asText()).isEqualTo("rate_limit_error");
          shed++;
        }
      }
      assertThat(shed).isPositive();
      assertThat(ok).isGreaterThanOrEqualTo(64);
    } finally {
      runner.gate = null;
      gate.countDown();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> engine.kvUsage() == 0);
    assertThat(post("/v1/completions", "{\"prompt\":\"after\",\"max_tokens\":2}").statusCode())
        .isEqualTo(200);
  }
}
