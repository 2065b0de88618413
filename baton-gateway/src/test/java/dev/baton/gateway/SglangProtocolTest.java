package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.gateway.protocol.SglangProtocol;
import dev.baton.testkit.SglangStandIn;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SGLang bootstrap protocol and the router endpoints SGLang's tools call, against stand-ins
 * that follow SGLang's HTTP server and check every injected field. The pool names no bootstrap
 * port: the gateway learns it from the prefill worker's {@code /get_server_info}, as the router
 * does.
 */
class SglangProtocolTest {
  static SglangStandIn prefill;
  static SglangStandIn decode;
  static Gateway gateway;

  @BeforeAll
  static void start() throws Exception {
    prefill = new SglangStandIn(true, 9123);
    decode = new SglangStandIn(false, 9123);
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    """
                    pools:
                      - name: sg
                        mode: sglang
                        policy: random
                        workers:
                          - {url: "%s", role: prefill}
                          - {url: "%s", role: decode}
                    """
                        .formatted(prefill.url(), decode.url())),
                null,
                null)
            .start(0);
    gateway.checkHealthOnce(); // learns the bootstrap port (and the models)
  }

  @AfterAll
  static void stop() {
    gateway.close();
    prefill.close();
    decode.close();
  }

  private static String url(String path) {
    return "http://127.0.0.1:" + gateway.port() + path;
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void bothSidesGetTheSameBodyWithBootstrapFields(boolean stream) {
    int before = decode.received.size();
    HttpResponse<String> r =
        Http.post(
            url("/v1/completions"),
            "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":4,\"stream\":" + stream + "}");
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Http.text(r.body(), false)).isEqualTo(" s0 s1 s2 s3");
    assertThat(r.headers().firstValue("x-baton-prefill")).contains(prefill.url());
    assertThat(r.headers().firstValue("x-baton-decode")).contains(decode.url());
    ObjectNode toDecode = decode.received.get(before);
    ObjectNode toPrefill =
        prefill.received.stream()
            .filter(b -> b.path("bootstrap_room").equals(toDecode.path("bootstrap_room")))
            .findFirst()
            .orElseThrow();
    assertThat(toPrefill).isEqualTo(toDecode);
    assertThat(toDecode.path("bootstrap_host").asText()).isEqualTo("127.0.0.1");
    assertThat(toDecode.path("bootstrap_port").asInt()).isEqualTo(9123);
    assertThat(toDecode.path("bootstrap_room").asLong()).isNotNegative();
    // rid: the request id, so that /abort_request can name the request on either worker.
    assertThat(toDecode.path("rid").asText())
        .isEqualTo(r.headers().firstValue("x-request-id").orElseThrow());
  }

  @Test
  void theBootstrapPortIsLearnedFromGetServerInfo() {
    assertThat(prefill.serverInfos.get()).isPositive();
    assertThat(decode.serverInfos.get()).as("only prefill workers are asked").isZero();
    assertThat(gateway.pool("sg").find(prefill.url()).bootstrapPort()).isEqualTo(9123);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void nativeGenerateGoesToBothSidesWithBootstrapFields(boolean stream) {
    int before = decode.received.size();
    HttpResponse<String> r =
        Http.post(
            url("/generate"),
            "{\"text\":\"hi\",\"sampling_params\":{\"max_new_tokens\":3,\"temperature\":0},"
                + "\"stream\":"
                + stream
                + "}");
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    ObjectNode toDecode = decode.received.get(before);
    assertThat(toDecode.path("bootstrap_port").asInt()).isEqualTo(9123);
    assertThat(toDecode.path("text").asText()).isEqualTo("hi");
    if (stream) {
      assertThat(Http.endsWithDone(r.body())).isTrue();
      assertThat(r.body()).contains("\"text\":\" s0 s1 s2\"");
    } else {
      assertThat(Json.parse(r.body()).path("text").asText()).isEqualTo(" s0 s1 s2");
      assertThat(Json.parse(r.body()).path("meta_info").path("completion_tokens").asInt())
          .isEqualTo(3);
    }
  }

  @Test
  void nativeGenerateBatchesGetOneRoomAndOneRidPerItem() {
    HttpResponse<String> r =
        Http.post(
            url("/generate"),
            "{\"input_ids\":[[1,2],[3,4]],\"sampling_params\":{\"max_new_tokens\":1}}",
            "X-Request-Id",
            "batch-7");
    assertThat(decode.violations).isEmpty();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    ObjectNode last = decode.received.getLast();
    assertThat(last.path("bootstrap_room").size()).isEqualTo(2);
    assertThat(last.path("rid")).isEqualTo(Json.parse("[\"batch-7-0\",\"batch-7-1\"]"));
  }

  @Test
  void chatWithNAboveOneGetsOneRoomPerSample() {
    HttpResponse<String> r =
        Http.post(
            url("/v1/chat/completions"),
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                + "\"n\":3,\"max_tokens\":1}");
    assertThat(decode.violations).isEmpty();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(decode.received.getLast().path("bootstrap_room").size()).isEqualTo(3);
  }

  @Test
  void serverAndModelInfoComeFromThePrefillWorker() {
    HttpResponse<String> info = Http.get(url("/get_server_info"));
    assertThat(info.statusCode()).isEqualTo(200);
    assertThat(Json.parse(info.body()).path("disaggregation_mode").asText()).isEqualTo("prefill");
    HttpResponse<String> model = Http.get(url("/get_model_info"));
    assertThat(model.statusCode()).isEqualTo(200);
    assertThat(Json.parse(model.body()).path("is_generation").asBoolean()).isTrue();
  }

  @Test
  void flushCacheReachesEveryWorkerAndHealthGenerateOnePair() {
    org.awaitility.Awaitility.await() // SGLang refuses to flush while requests run
        .atMost(java.time.Duration.ofSeconds(5))
        .until(() -> prefill.inFlight() == 0 && decode.inFlight() == 0);
    int p = prefill.flushes.get();
    int d = decode.flushes.get();
    HttpResponse<String> flushed = Http.post(url("/flush_cache"), "");
    assertThat(flushed.statusCode()).as(flushed.body()).isEqualTo(200);
    assertThat(flushed.body()).startsWith("Cache flushed successfully");
    assertThat(prefill.flushes.get()).isEqualTo(p + 1);
    assertThat(decode.flushes.get()).isEqualTo(d + 1);

    int hp = prefill.healthGenerates.get();
    int hd = decode.healthGenerates.get();
    HttpResponse<String> health = Http.get(url("/health_generate"));
    assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
    assertThat(prefill.healthGenerates.get()).isEqualTo(hp + 1);
    assertThat(decode.healthGenerates.get()).isEqualTo(hd + 1);
  }

  @Test
  void aFlushThatAWorkerRefusesIsAPartialSuccess() throws Exception {
    prefill.answerDelayMs = 1500;
    try {
      var running =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () ->
                  Http.post(
                      url("/v1/completions"),
                      "{\"model\":\"m\",\"prompt\":\"busy\",\"max_tokens\":1}"));
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(5))
          .until(() -> prefill.inFlight() > 0);
      HttpResponse<String> flushed = Http.post(url("/flush_cache"), "");
      assertThat(flushed.statusCode()).isEqualTo(206);
      assertThat(flushed.body()).contains("Prefill " + prefill.url() + " returned status: 400");
      assertThat(running.get().statusCode()).isEqualTo(200);
    } finally {
      prefill.answerDelayMs = 0;
    }
  }

  @Test
  void aClientLeavingMidStreamAbortsTheStillRunningPrefillByRid() throws Exception {
    prefill.answerDelayMs = 3000;
    decode.chunkDelayMs = 50;
    try {
      java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
      HttpResponse<java.io.InputStream> r =
          client.send(
              java.net.http.HttpRequest.newBuilder(java.net.URI.create(url("/v1/completions")))
                  .header("X-Request-Id", "leaving-1")
                  .POST(
                      java.net.http.HttpRequest.BodyPublishers.ofString(
                          "{\"model\":\"m\",\"prompt\":\"bye\",\"max_tokens\":200,"
                              + "\"stream\":true}"))
                  .build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body().read()).isPositive(); // the stream runs
      r.body().close();
      client.close();
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(2))
          .untilAsserted(() -> assertThat(prefill.aborted).contains(Json.parse("\"leaving-1\"")));
    } finally {
      prefill.answerDelayMs = 0;
      decode.chunkDelayMs = 0;
    }
  }

  @Test
  void batchesGetOneBootstrapEntryPerPrompt() {
    HttpResponse<String> r =
        Http.post(
            url("/v1/completions"),
            "{\"model\":\"m\",\"prompt\":[\"a\",\"b\",\"c\"],\"max_tokens\":2}");
    assertThat(decode.violations).isEmpty();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    ObjectNode last = decode.received.get(decode.received.size() - 1);
    assertThat(last.path("bootstrap_room").size()).isEqualTo(3);
    assertThat(last.path("bootstrap_host").size()).isEqualTo(3);
    assertThat(last.path("bootstrap_port").size()).isEqualTo(3);
  }

  @Test
  void roomsAreDistinctRandomIntegers() {
    java.util.Set<Long> rooms = new java.util.HashSet<>();
    for (int i = 0; i < 20; i++) {
      Http.post(
          url("/v1/chat/completions"),
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1}");
      rooms.add(decode.received.get(decode.received.size() - 1).path("bootstrap_room").asLong());
    }
    assertThat(rooms).hasSize(20);
  }

  @Test
  void requestBuilderUsesTheFullRoomRange() {
    ObjectNode body = (ObjectNode) Json.parse("{\"prompt\":\"x\"}");
    Worker w =
        new Worker(
            new WorkerSpec("http://10.0.0.5:8000", Role.PREFILL, null, 7000),
            new CircuitBreaker(3, 1000, System::nanoTime));
    ObjectNode out = SglangProtocol.withBootstrap(body, w, new long[] {Long.MAX_VALUE});
    assertThat(out.path("bootstrap_room").asLong()).isEqualTo(Long.MAX_VALUE);
    assertThat(out.path("bootstrap_host").asText()).isEqualTo("10.0.0.5");
    assertThat(out.path("bootstrap_port").asInt()).isEqualTo(7000);
  }
}
