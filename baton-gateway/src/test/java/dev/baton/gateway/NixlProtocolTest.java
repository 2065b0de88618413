package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vLLM NixlConnector P/D flow against protocol-checking stand-ins: every request goes prefill
 * (checked field by field) then decode (with the prefill's kv_transfer_params untouched), and the
 * client gets the same answer a colocated worker gives.
 */
class NixlProtocolTest {
  static VllmStandIn prefill;
  static VllmStandIn decode;
  static VllmStandIn colocated;
  static Gateway gateway;
  static Gateway direct;

  @BeforeAll
  static void start() throws Exception {
    prefill = new VllmStandIn(VllmStandIn.Kind.PREFILL, "tiny");
    decode = new VllmStandIn(VllmStandIn.Kind.DECODE, "tiny");
    colocated = new VllmStandIn(VllmStandIn.Kind.BOTH, "tiny");
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    """
                    pools:
                      - name: pd
                        mode: nixl
                        policy: round-robin
                        workers:
                          - {url: "%s", role: prefill}
                          - {url: "%s", role: decode}
                    """
                        .formatted(prefill.url(), decode.url())),
                null,
                null)
            .start(0);
    direct =
        new Gateway(
                GatewayConfig.parseYaml(
                    "pools: [{name: c, mode: colocated, workers: [{url: \"%s\"}]}]"
                        .formatted(colocated.url())),
                null,
                null)
            .start(0);
  }

  @AfterAll
  static void stop() {
    gateway.close();
    direct.close();
    prefill.close();
    decode.close();
    colocated.close();
  }

  static String url(Gateway g, String path) {
    return "http://127.0.0.1:" + g.port() + path;
  }

  @ParameterizedTest
  @CsvSource({"false,false", "true,false", "false,true", "true,true"})
  void pdAnswerEqualsColocatedAnswer(boolean stream, boolean chat) {
    String path = chat ? "/v1/chat/completions" : "/v1/completions";
    String body =
        chat
            ? "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}],"
                + "\"max_tokens\":7,\"min_tokens\":2,\"stream\":%s,\"temperature\":0,"
                + "\"stream_options\":{\"include_usage\":true}}"
            : "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"max_tokens\":7,"
                + "\"min_tokens\":2,\"stream\":%s,\"stream_options\":{\"include_usage\":true}}";
    body = body.formatted(stream);
    int prefillsBefore = prefill.prefillLegs.get();
    int decodesBefore = decode.decodeLegs.get();
    HttpResponse<String> pd = Http.post(url(gateway, path), body);
    HttpResponse<String> plain = Http.post(url(direct, path), body);

    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(pd.statusCode()).as(pd.body()).isEqualTo(200);
    assertThat(prefill.prefillLegs.get()).isEqualTo(prefillsBefore + 1);
    assertThat(decode.decodeLegs.get()).isEqualTo(decodesBefore + 1);
    assertThat(pd.headers().firstValue("x-baton-prefill")).contains(prefill.url());
    assertThat(pd.headers().firstValue("x-baton-decode")).contains(decode.url());
    assertThat(Http.text(pd.body(), chat)).isEqualTo(Http.text(plain.body(), chat));
    assertThat(Http.text(pd.body(), chat)).isEqualTo(" w0 w1 w2 w3 w4 w5 w6");
    if (stream) {
      assertThat(pd.headers().firstValue("content-type"))
          .hasValueSatisfying(ct -> assertThat(ct).startsWith("text/event-stream"));
      assertThat(Http.endsWithDone(pd.body())).isTrue();
    }
  }

  @ParameterizedTest
  @CsvSource({"false", "true"})
  void aPrefillStoppedByItsFirstTokenNamesNoKvAndDecodeGetsTheOriginalRequest(boolean stream) {
    // As vLLM's request_finished: KV is handed out only for a request that ended by length.
    String body =
        "{\"model\":\"tiny\",\"prompt\":\"abc\",\"max_tokens\":5,\"stop\":[\"w0\"],"
            + "\"stream\":"
            + stream
            + "}";
    int prefills = prefill.prefillLegs.get();
    int plain = decode.plainRequests.get();
    int decodes = decode.decodeLegs.get();
    HttpResponse<String> pd = Http.post(url(gateway, "/v1/completions"), body);
    HttpResponse<String> direct = Http.post(url(NixlProtocolTest.direct, "/v1/completions"), body);
    assertThat(pd.statusCode()).as(pd.body()).isEqualTo(200);
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(prefill.prefillLegs.get()).isEqualTo(prefills + 1); // not retried: not a failure
    assertThat(decode.decodeLegs.get()).isEqualTo(decodes);
    assertThat(decode.plainRequests.get()).isEqualTo(plain + 1);
    assertThat(decode.received.getLast().has("kv_transfer_params")).isFalse();
    var sent = decode.received.getLast().deepCopy();
    if (stream) {
      assertThat(sent.remove("return_token_ids").asBoolean()).isTrue(); // for token-exact migration
    }
    assertThat(sent).isEqualTo(dev.baton.core.Json.parse(body));
    assertThat(pd.body()).contains("\"finish_reason\":\"stop\"");
    assertThat(Http.text(pd.body(), false)).isEqualTo(Http.text(direct.body(), false)).isEmpty();
    Worker p = gateway.pools().iterator().next().find(prefill.url());
    assertThat(p.breaker().state()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  @Test
  void decodeLegIsTheOriginalRequestPlusTheReturnedParams() {
    String body =
        "{\"model\":\"tiny\",\"prompt\":\"abc\",\"max_tokens\":3,\"stream\":false,"
            + "\"min_tokens\":1,\"top_p\":0.9,\"custom_field\":{\"x\":1}}";
    HttpResponse<String> r = Http.post(url(gateway, "/v1/completions"), body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    var sentToDecode = decode.received.get(decode.received.size() - 1).deepCopy();
    var kv = sentToDecode.remove("kv_transfer_params");
    assertThat(sentToDecode).isEqualTo(dev.baton.core.Json.parse(body));
    assertThat(kv.path("lease_token").asText()).isNotEmpty();
    assertThat(kv).isEqualTo(VllmStandIn.ISSUED.get(kv.path("remote_request_id").asText()));
  }

  @Test
  void clientErrorsFromWorkersPassThroughUnchanged() {
    // A worker's 4xx reaches the client as it is, and is not retried elsewhere.
    int before = colocated.received.size();
    colocated.failStatus = 400;
    colocated.failNext.set(1);
    try {
      HttpResponse<String> r =
          Http.post(url(direct, "/v1/completions"), "{\"model\":\"tiny\",\"prompt\":\"x\"}");
      assertThat(r.statusCode()).isEqualTo(400);
      assertThat(r.body()).contains("overloaded");
      assertThat(colocated.received.size()).isEqualTo(before + 1);
    } finally {
      colocated.failStatus = 503;
      colocated.failNext.set(0);
    }
  }

  @Test
  void clientSuppliedKvTransferParamsNeverReachAWorker() {
    // A client must not steer a worker's KV channel: the gateway drops the field on every route.
    String steering =
        "{\"model\":\"tiny\",\"prompt\":\"x\",\"max_tokens\":2,\"kv_transfer_params\":"
            + "{\"do_remote_prefill\":true,\"remote_request_id\":\"bogus\","
            + "\"remote_host\":\"10.9.9.9\",\"remote_port\":22}}";
    HttpResponse<String> plain = Http.post(url(direct, "/v1/completions"), steering);
    assertThat(plain.statusCode()).as(plain.body()).isEqualTo(200);
    assertThat(colocated.received.getLast().has("kv_transfer_params")).isFalse();
    HttpResponse<String> pd = Http.post(url(gateway, "/v1/completions"), steering);
    assertThat(pd.statusCode()).as(pd.body()).isEqualTo(200);
    assertThat(prefill.received.getLast().path("kv_transfer_params").path("remote_host").isNull())
        .isTrue();
    assertThat(decode.received.getLast().path("kv_transfer_params").path("remote_request_id"))
        .isNotEqualTo(dev.baton.core.Json.parse("\"bogus\""));
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
  }

  @Test
  void malformedRequestsGetAClear400AndTheGatewayKeepsServing() {
    HttpResponse<String> r = Http.post(url(gateway, "/v1/completions"), "[1,2]");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("malformed request");
    r = Http.post(url(gateway, "/v1/completions"), "{\"prompt\": ");
    assertThat(r.statusCode()).isEqualTo(400);
    r = Http.post(url(gateway, "/v1/completions"), "{\"model\":\"tiny\",\"prompt\":\"ok\"}");
    assertThat(r.statusCode()).isEqualTo(200);
  }

  @Test
  void bothLegsCarryTheClientsRequestIdAndTheClientsKeyStaysAtTheGateway() {
    HttpResponse<String> r =
        Http.post(
            url(gateway, "/v1/completions"),
            "{\"model\":\"tiny\",\"prompt\":\"abc\",\"max_tokens\":2}",
            "X-Request-Id",
            "trace-42",
            "Authorization",
            "Bearer client-secret");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-request-id")).contains("trace-42");
    var prefillHeaders = prefill.receivedHeaders.getLast();
    var decodeHeaders = decode.receivedHeaders.getLast();
    assertThat(prefillHeaders.get("x-request-id")).isEqualTo("trace-42");
    assertThat(decodeHeaders.get("x-request-id")).isEqualTo("trace-42");
    assertThat(prefillHeaders).doesNotContainKey("authorization");
    assertThat(decodeHeaders).doesNotContainKey("authorization");
  }

  @Test
  void nativeGenerateIsNotForwardedToAVllmPool() {
    int before = prefill.requests() + decode.requests();
    HttpResponse<String> r = Http.post(url(gateway, "/generate"), "{\"text\":\"hi\"}");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).contains("/v1/completions");
    assertThat(prefill.requests() + decode.requests()).isEqualTo(before);
  }
}
