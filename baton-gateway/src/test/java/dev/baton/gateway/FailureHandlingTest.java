package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.VllmStandIn;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Retries, migration, ejection and return, admission control and client disconnects. */
class FailureHandlingTest {
  private final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeMe.reversed()) {
      c.close();
    }
  }

  private VllmStandIn worker(VllmStandIn.Kind kind) throws Exception {
    VllmStandIn w = new VllmStandIn(kind, "tiny");
    closeMe.add(w);
    return w;
  }

  private Gateway gateway(String yaml) {
    Gateway g = new Gateway(GatewayConfig.parseYaml(yaml), null, null).start(0);
    closeMe.add(g);
    return g;
  }

  private static String pdPool(String extra, VllmStandIn... workers) {
    StringBuilder sb = new StringBuilder();
    sb.append(extra)
        .append("\npools:\n  - name: pd\n    mode: nixl\n    policy: round-robin\n    workers:\n");
    for (VllmStandIn w : workers) {
      sb.append("      - {url: \"")
          .append(w.url())
          .append("\", role: ")
          .append(w.kind.name().toLowerCase(java.util.Locale.ROOT))
          .append("}\n");
    }
    return sb.toString();
  }

  private static String completions(Gateway g) {
    return "http://127.0.0.1:" + g.port() + "/v1/completions";
  }

  private static final String STREAM_BODY =
      "{\"model\":\"tiny\",\"prompt\":\"Tell me\",\"max_tokens\":10,\"stream\":true}";

  @Test
  void refusedPrefillIsRetriedOnAnotherPair() throws Exception {
    VllmStandIn p1 = worker(VllmStandIn.Kind.PREFILL);
    VllmStandIn p2 = worker(VllmStandIn.Kind.PREFILL);
    VllmStandIn d = worker(VllmStandIn.Kind.DECODE);
    Gateway g = gateway(pdPool("health: {interval_ms: 60000}", p1, p2, d));
    await().atMost(Duration.ofSeconds(10)).until(() -> p1.healthChecks.get() >= 1);
    p1.kill();
    for (int i = 0; i < 6; i++) {
      HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(Http.text(r.body(), false)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
      assertThat(r.headers().firstValue("x-baton-prefill"))
          .as(r.headers().toString())
          .contains(p2.url());
    }
    String metrics = Http.get("http://127.0.0.1:" + g.port() + "/metrics").body();
    assertThat(metrics).contains("baton_gateway_retries_total{leg=\"prefill\"}");
    assertThat(metrics).contains("baton_gateway_ejections_total{worker=\"" + p1.url() + "\"} 1.0");
  }

  @Test
  void decodeFailingBeforeTheFirstByteIsRetried() throws Exception {
    VllmStandIn p = worker(VllmStandIn.Kind.PREFILL);
    VllmStandIn d1 = worker(VllmStandIn.Kind.DECODE);
    VllmStandIn d2 = worker(VllmStandIn.Kind.DECODE);
    Gateway g = gateway(pdPool("health: {interval_ms: 60000}", p, d1, d2));
    d1.failNext.set(1);
    d2.failNext.set(1);
    HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Http.text(r.body(), false)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assertThat(p.prefillLegs.get()).isEqualTo(3);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void decodeDyingMidStreamIsMigratedAndTheClientSeesOneAnswer(boolean chat) throws Exception {
    VllmStandIn p = worker(VllmStandIn.Kind.PREFILL);
    VllmStandIn d1 = worker(VllmStandIn.Kind.DECODE);
    VllmStandIn d2 = worker(VllmStandIn.Kind.DECODE);
    Gateway g = gateway(pdPool("health: {interval_ms: 60000}", p, d1, d2));
    d1.cutAfterChunks = 4;
    d1.emitsTokenIds = false; // a vLLM before return_token_ids: the text fallback
    String path = chat ? "/v1/chat/completions" : "/v1/completions";
    String body =
        chat
            ? "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me\"}],"
                + "\"max_tokens\":10,\"stream\":true}"
            : STREAM_BODY;
    HttpResponse<String> r = Http.post("http://127.0.0.1:" + g.port() + path, body);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Http.text(r.body(), chat)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assertThat(Http.endsWithDone(r.body())).isTrue();
    // Round-robin sent the request to d1, which died after 4 tokens; d2 got the continuation
    // as a plain request.
    assertThat(d2.received).hasSize(1);
    var continuation = d2.received.get(0);
    assertThat(continuation.has("kv_transfer_params")).isFalse();
    // The continuation carries the text the client already has (tokens in flight when the
    // worker died may be lost with its connection) and asks only for the rest.
    String sent =
        chat
            ? continuation.path("messages").get(1).path("content").asText()
            : continuation.path("prompt").asText().substring("Tell me".length());
    int already = VllmStandIn.countWords(sent);
    assertThat(already).isBetween(0, 4);
    assertThat(sent).isEqualTo(" w0 w1 w2 w3".substring(0, 3 * already));
    assertThat(continuation.path("max_tokens").asInt()).isEqualTo(10 - already);
    if (chat) {
      assertThat(continuation.path("continue_final_message").asBoolean()).isTrue();
      assertThat(continuation.path("add_generation_prompt").asBoolean()).isFalse();
    }
    assertThat(Http.get("http://127.0.0.1:" + g.port() + "/metrics").body())
        .contains("baton_gateway_migrations_total{from=\"text\"} 1.0");
  }

  @Test
  void withMigrationOffABrokenStreamEndsWithAClearError() throws Exception {
    VllmStandIn d1 = worker(VllmStandIn.Kind.BOTH);
    VllmStandIn d2 = worker(VllmStandIn.Kind.BOTH);
    Gateway g =
        gateway(
            """
            migration: {enabled: false}
            health: {interval_ms: 60000}
            pools: [{name: c, mode: colocated, policy: round-robin,
                     workers: [{url: "%s"}, {url: "%s"}]}]
            """
                .formatted(d1.url(), d2.url()));
    d1.cutAfterChunks = 3;
    d2.cutAfterChunks = 3;
    HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
    assertThat(r.statusCode()).isEqualTo(200);
    // Tokens the worker sent just before dying may be lost with the connection; the stream
    // ends with an error event and [DONE] either way.
    assertThat(Http.text(r.body(), false)).startsWith(" w0").contains("<error:decode worker");
    assertThat(Http.endsWithDone(r.body())).isTrue();
  }

  @Test
  void clientDisconnectAbortsTheUpstreamRequest() throws Exception {
    VllmStandIn d = worker(VllmStandIn.Kind.BOTH);
    d.chunkDelayMs = 20;
    Gateway g =
        gateway("pools: [{name: c, mode: colocated, workers: [{url: \"%s\"}]}]".formatted(d.url()));
    String body = "{\"model\":\"tiny\",\"prompt\":\"x\",\"max_tokens\":1000,\"stream\":true}";
    try (Socket s = new Socket("127.0.0.1", g.port())) {
      OutputStream out = s.getOutputStream();
      out.write(
          ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Content-Length: "
                  + body.length()
                  + "\r\n\r\n"
                  + body)
              .getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      int got = 0;
      while (got < 600) {
        got += Math.max(0, in.read(buf));
      }
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> d.disconnectsSeen.get() == 1);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> g.pool("c").workers().get(0).inFlight() == 0);
  }

  @Test
  void ejectedWorkerReturnsOnceHealthy() throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH);
    VllmStandIn b = worker(VllmStandIn.Kind.BOTH);
    Gateway g =
        gateway(
            """
            health: {interval_ms: 50, failure_threshold: 2, open_ms: 200}
            pools: [{name: c, mode: colocated, policy: round-robin,
                     workers: [{url: "%s"}, {url: "%s"}]}]
            """
                .formatted(a.url(), b.url()));
    Worker wa = g.pool("c").find(a.url());
    a.kill();
    await().atMost(Duration.ofSeconds(10)).until(() -> !wa.available());
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-baton-decode")).contains(b.url());
    }
    a.restart();
    await().atMost(Duration.ofSeconds(10)).until(wa::available);
    int before = a.plainRequests.get();
    for (int i = 0; i < 4; i++) {
      assertThat(Http.post(completions(g), STREAM_BODY).statusCode()).isEqualTo(200);
    }
    assertThat(a.plainRequests.get()).isGreaterThan(before);
  }

  @Test
  void fullPoolAnswers429WithRetryAfter() throws Exception {
    VllmStandIn d = worker(VllmStandIn.Kind.BOTH);
    d.chunkDelayMs = 50;
    Gateway g =
        gateway(
            "pools: [{name: c, mode: colocated, max_in_flight: 1, queue_size: 0, workers: [{url: \"%s\"}]}]"
                .formatted(d.url()));
    var slow =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () ->
                Http.post(
                    completions(g),
                    "{\"model\":\"tiny\",\"prompt\":\"x\",\"max_tokens\":20,\"stream\":true}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> d.plainRequests.get() == 1);
    HttpResponse<String> refused = Http.post(completions(g), STREAM_BODY);
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.headers().firstValue("retry-after")).contains("1");
    assertThat(slow.get().statusCode()).isEqualTo(200);
  }

  @Test
  void noHealthyWorkerIsAClear503AndAllFailingIsA502() throws Exception {
    VllmStandIn d = worker(VllmStandIn.Kind.BOTH);
    Gateway g =
        gateway(
            "retry: {max_attempts: 2, backoff_ms: 1}\n"
                + "health: {interval_ms: 60000}\n"
                + "pools: [{name: c, mode: colocated, workers: [{url: \"%s\"}]}]"
                    .formatted(d.url()));
    d.failNext.set(100);
    HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
    assertThat(r.statusCode()).isEqualTo(502);
    assertThat(r.body()).contains("all attempts failed").contains("HTTP 503");
    d.kill();
    r = Http.post(completions(g), STREAM_BODY);
    assertThat(r.statusCode()).isIn(502, 503);
    assertThat(r.body()).contains("error");
  }

  private static String colocatedPool(String extra, VllmStandIn... workers) {
    StringBuilder sb = new StringBuilder(extra);
    sb.append(
        "\npools:\n  - name: c\n    mode: colocated\n    policy: round-robin\n    workers:\n");
    for (VllmStandIn w : workers) {
      sb.append("      - {url: \"").append(w.url()).append("\"}\n");
    }
    return sb.toString();
  }

  @Test
  void aDecodeStreamSilentPastFirstByteMsIsCutAndRetriedElsewhere() throws Exception {
    VllmStandIn silent = worker(VllmStandIn.Kind.BOTH);
    VllmStandIn healthy = worker(VllmStandIn.Kind.BOTH);
    silent.chunkDelayMs = 5000; // answers its head at once, its first event only after 5 s
    Gateway g =
        gateway(
            colocatedPool(
                "decode_watchdog: {first_byte_ms: 300, idle_ms: 10000}", silent, healthy));
    for (int i = 0; i < 2; i++) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = Http.post(completions(g), STREAM_BODY);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(Http.text(r.body(), false)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
      assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(4000);
    }
    assertThat(healthy.plainRequests.get()).isEqualTo(2);
    // Round-robin may send both requests to the silent worker first: one cut each.
    assertThat(Http.get("http://127.0.0.1:" + g.port() + "/metrics").body())
        .containsAnyOf(
            "baton_gateway_decode_watchdog_cuts_total 1.0",
            "baton_gateway_decode_watchdog_cuts_total 2.0");
  }

  @Test
  void aDecodeStreamThatStallsMidwayIsCutAndMigrated() throws Exception {
    VllmStandIn stalling = worker(VllmStandIn.Kind.BOTH);
    VllmStandIn healthy = worker(VllmStandIn.Kind.BOTH);
    stalling.chunkDelayMs = 5000; // chat: the role chunk at once, then silence
    Gateway g =
        gateway(
            colocatedPool(
                "decode_watchdog: {first_byte_ms: 10000, idle_ms: 300}", stalling, healthy));
    long t0 = System.nanoTime();
    HttpResponse<String> r =
        Http.post(
            "http://127.0.0.1:" + g.port() + "/v1/chat/completions",
            "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me\"}],"
                + "\"max_tokens\":10,\"stream\":true}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Http.text(r.body(), true)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(4000);
    String metrics = Http.get("http://127.0.0.1:" + g.port() + "/metrics").body();
    assertThat(metrics).contains("baton_gateway_decode_watchdog_cuts_total 1.0");
    // The role chunk carried the prompt's ids: the continuation started from them.
    assertThat(metrics).contains("baton_gateway_migrations_total{from=\"token_ids\"} 1.0");
  }

  /**
   * A decode stream broken after 4 tokens, by a cut connection or (errorEvent) as vLLM reports a
   * failure once a stream has started: an error event under HTTP 200, which is not relayed.
   */
  @ParameterizedTest(name = "chat {0}, error event {1}")
  @CsvSource({"false, false", "true, false", "false, true", "true, true"})
  void aStreamBrokenMidwayContinuesFromTokenIds(boolean chat, boolean errorEvent) throws Exception {
    VllmStandIn p = worker(VllmStandIn.Kind.PREFILL);
    VllmStandIn d1 = worker(VllmStandIn.Kind.DECODE);
    VllmStandIn d2 = worker(VllmStandIn.Kind.DECODE);
    Gateway g = gateway(pdPool("health: {interval_ms: 60000}", p, d1, d2));
    if (errorEvent) {
      d1.errorAfterChunks = 4;
    } else {
      d1.cutAfterChunks = 4;
    }
    String path = chat ? "/v1/chat/completions" : "/v1/completions";
    String body =
        chat
            ? "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me\"}],"
                + "\"max_tokens\":10,\"stream\":true}"
            : STREAM_BODY;
    HttpResponse<String> r = Http.post("http://127.0.0.1:" + g.port() + path, body);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(Http.text(r.body(), chat)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assertThat(r.body()).as("ids the gateway asked for are stripped").doesNotContain("token_ids");
    assertThat(r.body()).doesNotContain("error");
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (String line : r.body().split("\n")) {
      if (line.startsWith("data: {")) {
        var chunk = dev.baton.core.Json.parse(line.substring(6));
        ids.add(chunk.path("id").asText());
        if (chat && chunk.path("choices").size() == 1) {
          assertThat(chunk.path("object").asText()).isEqualTo("chat.completion.chunk");
          assertThat(chunk.path("choices").get(0).has("text")).isFalse();
        }
      }
    }
    assertThat(ids).as("one id across the seam").hasSize(1);
    // d2 got a completion from ids: the prompt's (the stand-in's tokenizer) + the 4 streamed.
    assertThat(d2.received).hasSize(1);
    var continuation = d2.received.get(0);
    String prompt = chat ? "Tell me\n" : "Tell me";
    java.util.List<Integer> expected = new java.util.ArrayList<>();
    prompt.chars().forEach(expected::add);
    expected.addAll(java.util.List.of(1000, 1001, 1002, 1003));
    java.util.List<Integer> sent = new java.util.ArrayList<>();
    continuation.path("prompt").forEach(t -> sent.add(t.asInt()));
    assertThat(sent).isEqualTo(expected);
    assertThat(continuation.path("max_tokens").asInt()).isEqualTo(6);
    assertThat(continuation.has("messages")).isFalse();
    assertThat(d2.receivedHeaders.getLast()).isNotNull();
    assertThat(Http.get("http://127.0.0.1:" + g.port() + "/metrics").body())
        .contains("baton_gateway_migrations_total{from=\"token_ids\"} 1.0");
  }
}
