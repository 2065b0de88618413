package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.core.Json;
import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The front API: models, health, metrics, API keys, the admin API and reloads. */
class GatewayApiTest {
  private final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeMe.reversed()) {
      c.close();
    }
  }

  private VllmStandIn worker(VllmStandIn.Kind kind, String model) throws Exception {
    VllmStandIn w = new VllmStandIn(kind, model);
    closeMe.add(w);
    return w;
  }

  private Gateway gateway(String yaml, Path file) {
    Gateway g = new Gateway(GatewayConfig.parseYaml(yaml), file, null).start(0);
    closeMe.add(g);
    return g;
  }

  private static String url(Gateway g, String path) {
    return "http://127.0.0.1:" + g.port() + path;
  }

  private static final String BODY = "{\"model\":\"%s\",\"prompt\":\"hi\",\"max_tokens\":2}";

  @Test
  void modelsAreTheUnionOfThePoolsAndRequestsGoToTheirModelsPool() throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH, "alpha");
    VllmStandIn b = worker(VllmStandIn.Kind.BOTH, "beta");
    Gateway g =
        gateway(
            """
            pools:
              - {name: one, workers: [{url: "%s"}]}
              - {name: two, models: [beta-alias], workers: [{url: "%s"}]}
            """
                .formatted(a.url(), b.url()),
            null);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Http.get(url(g, "/v1/models")).body().contains("\"beta\""));
    var ids = new ArrayList<String>();
    Json.parse(Http.get(url(g, "/v1/models")).body())
        .path("data")
        .forEach(m -> ids.add(m.path("id").asText()));
    assertThat(ids).containsExactlyInAnyOrder("alpha", "beta", "beta-alias");
    assertThat(
            Http.post(url(g, "/v1/completions"), BODY.formatted("beta"))
                .headers()
                .firstValue("x-baton-decode"))
        .contains(b.url());
    assertThat(
            Http.post(url(g, "/v1/completions"), BODY.formatted("beta-alias"))
                .headers()
                .firstValue("x-baton-decode"))
        .contains(b.url());
    assertThat(
            Http.post(url(g, "/v1/completions"), BODY.formatted("alpha"))
                .headers()
                .firstValue("x-baton-decode"))
        .contains(a.url());
    HttpResponse<String> health = Http.get(url(g, "/health"));
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(Json.parse(health.body()).path("pools").path("two").path("available").asInt())
        .isEqualTo(1);
  }

  @Test
  void apiKeysAreCheckedBeforeAnyUpstreamWork() throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH, "m");
    Gateway g =
        gateway("api_keys: [sk-1]\npools: [{workers: [{url: \"%s\"}]}]".formatted(a.url()), null);
    assertThat(Http.post(url(g, "/v1/completions"), BODY.formatted("m")).statusCode())
        .isEqualTo(401);
    assertThat(
            Http.post(
                    url(g, "/v1/completions"), BODY.formatted("m"), "Authorization", "Bearer nope")
                .statusCode())
        .isEqualTo(401);
    assertThat(a.requests()).isZero();
    assertThat(
            Http.post(
                    url(g, "/v1/completions"), BODY.formatted("m"), "Authorization", "Bearer sk-1")
                .statusCode())
        .isEqualTo(200);
    assertThat(Http.get(url(g, "/v1/models")).statusCode()).isEqualTo(401);
  }

  @Test
  void metricsCountRequestsSelectionsAndLatencies() throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH, "m");
    Gateway g =
        gateway(
            "pools: [{policy: least-request, workers: [{url: \"%s\"}]}]".formatted(a.url()), null);
    Http.post(url(g, "/v1/completions"), BODY.formatted("m"));
    Http.post(url(g, "/v1/completions"), "{\"prompt\":\"x\",\"stream\":true,\"max_tokens\":3}");
    String m = Http.get(url(g, "/metrics")).body();
    assertThat(m)
        .contains(
            "baton_gateway_requests_total{policy=\"least-request\",route=\"/v1/completions\",status=\"200\"} 2.0")
        .contains(
            "baton_gateway_worker_selections_total{leg=\"colocated\",worker=\""
                + a.url()
                + "\"} 2.0")
        .contains("baton_gateway_upstream_latency_seconds_count{leg=\"colocated\"} 2")
        .contains("baton_gateway_time_to_first_token_seconds_count 1")
        .contains("baton_gateway_inter_token_latency_seconds_count 2");
  }

  @Test
  void adminApiAddsAndRemovesWorkersLoopbackOnlyOrWithToken() throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH, "m");
    VllmStandIn b = worker(VllmStandIn.Kind.BOTH, "m");
    Gateway g =
        gateway(
            "pools: [{name: p, policy: round-robin, workers: [{url: \"%s\"}]}]".formatted(a.url()),
            null);
    HttpResponse<String> r =
        Http.post(
            url(g, "/admin/workers"),
            "{\"pool\":\"p\",\"url\":\"" + b.url() + "\",\"role\":\"both\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    for (int i = 0; i < 4; i++) {
      Http.post(url(g, "/v1/completions"), BODY.formatted("m"));
    }
    assertThat(b.plainRequests.get()).isEqualTo(2);
    assertThat(Http.get(url(g, "/admin/workers")).body()).contains(b.url());
    assertThat(Http.post(url(g, "/admin/workers"), "{\"pool\":\"p\",\"url\":\"bad\"}").statusCode())
        .isEqualTo(400);
    assertThat(
            Http.post(url(g, "/admin/workers"), "{\"pool\":\"nope\",\"url\":\"http://h:1\"}")
                .statusCode())
        .isEqualTo(400);
    assertThat(Http.delete(url(g, "/admin/workers?pool=p&url=" + a.url())).statusCode())
        .isEqualTo(200);
    assertThat(Http.delete(url(g, "/admin/workers?pool=p&url=" + a.url())).statusCode())
        .isEqualTo(404);
    int before = a.plainRequests.get();
    for (int i = 0; i < 3; i++) {
      Http.post(url(g, "/v1/completions"), BODY.formatted("m"));
    }
    assertThat(a.plainRequests.get()).isEqualTo(before);

    Gateway secured =
        gateway(
            "admin_token: s3cret\npools: [{name: p, workers: [{url: \"%s\"}]}]".formatted(a.url()),
            null);
    assertThat(Http.get(url(secured, "/admin/workers")).statusCode()).isEqualTo(401);
    assertThat(
            Http.get(url(secured, "/admin/workers"), "Authorization", "Bearer s3cret").statusCode())
        .isEqualTo(200);
  }

  @Test
  void reloadSwapsWorkersWithoutDroppingStreamsInFlight(@TempDir Path dir) throws Exception {
    VllmStandIn a = worker(VllmStandIn.Kind.BOTH, "m");
    VllmStandIn b = worker(VllmStandIn.Kind.BOTH, "m");
    a.chunkDelayMs = 20;
    Path file = dir.resolve("gw.yaml");
    Files.writeString(file, "pools: [{name: p, workers: [{url: \"%s\"}]}]".formatted(a.url()));
    Gateway g = new Gateway(GatewayConfig.load(file), file, null).start(0);
    closeMe.add(g);
    CompletableFuture<HttpResponse<String>> inFlight =
        CompletableFuture.supplyAsync(
            () ->
                Http.post(
                    url(g, "/v1/completions"),
                    "{\"prompt\":\"x\",\"stream\":true,\"max_tokens\":30}"));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.plainRequests.get() == 1);
    Files.writeString(file, "pools: [{name: p, workers: [{url: \"%s\"}]}]".formatted(b.url()));
    assertThat(Http.post(url(g, "/admin/reload"), "").statusCode()).isEqualTo(200);
    assertThat(
            Http.post(url(g, "/v1/completions"), BODY.formatted("m"))
                .headers()
                .firstValue("x-baton-decode"))
        .contains(b.url());
    HttpResponse<String> streamed = inFlight.get();
    assertThat(streamed.statusCode()).isEqualTo(200);
    assertThat(VllmStandIn.countWords(Http.text(streamed.body(), false))).isEqualTo(30);
    // A broken file keeps the running config and says why.
    Files.writeString(file, "pools: [{policy: nope}]");
    HttpResponse<String> bad = Http.post(url(g, "/admin/reload"), "");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("unknown routing policy");
    assertThat(Http.post(url(g, "/v1/completions"), BODY.formatted("m")).statusCode())
        .isEqualTo(200);
  }

  @Test
  void oversizedBodiesAreRefusedBeforeTheyAreReadAndUnknownRoutesAnswerJson() throws Exception {
    VllmStandIn w = worker(VllmStandIn.Kind.BOTH, "m");
    Gateway g =
        gateway(
            "max_body_bytes: 1000\npools: [{workers: [{url: \"%s\"}]}]".formatted(w.url()), null);
    int before = w.received.size();
    HttpResponse<String> big =
        Http.post(url(g, "/v1/completions"), "{\"prompt\":\"" + "x".repeat(5000) + "\"}");
    assertThat(big.statusCode()).isEqualTo(413);
    assertThat(Json.parse(big.body()).path("error").path("type").asText())
        .isEqualTo("invalid_request_error");
    assertThat(w.received.size()).as("nothing reached a worker").isEqualTo(before);
    HttpResponse<String> small = Http.post(url(g, "/v1/completions"), BODY.formatted("m"));
    assertThat(small.statusCode()).isEqualTo(200);

    HttpResponse<String> missing = Http.get(url(g, "/v2/nothing"));
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(Json.parse(missing.body()).path("error").path("message").asText())
        .contains("/v2/nothing");

    HttpResponse<String> garbage = Http.post(url(g, "/v1/completions"), "{not json");
    assertThat(garbage.statusCode()).isEqualTo(400);
    assertThat(garbage.body()).doesNotContain("Exception").doesNotContain("jackson");
  }

  @Test
  void theGatewayBindsLoopbackUnlessConfigured() {
    assertThat(GatewayConfig.defaults().host()).isEqualTo("127.0.0.1");
  }

  @Test
  void aWorkerAddedByTheAdminApiServesItsModelTheMomentTheCallReturns() throws Exception {
    VllmStandIn first = worker(VllmStandIn.Kind.BOTH, "alpha");
    VllmStandIn added = worker(VllmStandIn.Kind.BOTH, "beta");
    Gateway g =
        gateway(
            """
            health: {interval_ms: 600000}
            pools:
              - {name: one, workers: [{url: "%s"}]}
              - {name: two, workers: []}
            """
                .formatted(first.url()),
            null);
    HttpResponse<String> r =
        Http.post(url(g, "/admin/workers"), "{\"pool\":\"two\",\"url\":\"" + added.url() + "\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    // No health round has run (10 min interval): the admin call itself learned the model.
    assertThat(Http.get(url(g, "/v1/models")).body()).contains("beta");
    HttpResponse<String> routed = Http.post(url(g, "/v1/completions"), BODY.formatted("beta"));
    assertThat(routed.statusCode()).as(routed.body()).isEqualTo(200);
    assertThat(added.received).hasSize(1);
  }

  @Test
  void aPoolsWorkerKeyIsSentToItsWorkersInsteadOfTheClientsKey() throws Exception {
    VllmStandIn w = worker(VllmStandIn.Kind.BOTH, "m");
    Gateway g =
        gateway(
            """
            api_keys: [client-key]
            pools: [{worker_api_key: worker-key, workers: [{url: "%s"}]}]
            """
                .formatted(w.url()),
            null);
    HttpResponse<String> r =
        Http.post(
            url(g, "/v1/completions"), BODY.formatted("m"), "Authorization", "Bearer client-key");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(w.receivedHeaders.getLast().get("authorization")).isEqualTo("Bearer worker-key");
  }
}
