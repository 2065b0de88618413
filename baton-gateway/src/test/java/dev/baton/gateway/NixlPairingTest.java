package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.protocol.NixlPairing;
import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both ways vLLM pairs the P/D legs (NixlPairing): stand-ins claiming a vLLM version on {@code
 * /version} enforce exactly that version's rule (a decode worker must be able to name the prefill's
 * request when it frees its blocks), and the gateway, which learns the versions, makes every
 * combination that can work work and keeps the one that cannot from holding KV.
 */
class NixlPairingTest {

  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
  }

  VllmStandIn standIn(VllmStandIn.Kind kind, String version) throws Exception {
    VllmStandIn s = new VllmStandIn(kind, "tiny");
    s.version = version;
    open.add(s);
    return s;
  }

  Gateway gateway(VllmStandIn prefill, VllmStandIn... decodes) {
    StringBuilder workers = new StringBuilder();
    workers.append("      - {url: \"%s\", role: prefill}\n".formatted(prefill.url()));
    for (VllmStandIn d : decodes) {
      workers.append("      - {url: \"%s\", role: decode}\n".formatted(d.url()));
    }
    Gateway g =
        new Gateway(
                GatewayConfig.parseYaml(
                    "retry: {max_attempts: 3, backoff_ms: 1}\n"
                        + "pools:\n  - name: pd\n    mode: nixl\n    policy: round-robin\n"
                        + "    workers:\n"
                        + workers),
                null,
                null)
            .start(0);
    open.add(g);
    g.checkHealthOnce(); // learns each worker's /version, as a healthy transition does
    return g;
  }

  static HttpResponse<String> complete(Gateway g, boolean chat) {
    return chat
        ? Http.post(
            "http://127.0.0.1:" + g.port() + "/v1/chat/completions",
            "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"max_tokens\":3}")
        : Http.post(
            "http://127.0.0.1:" + g.port() + "/v1/completions",
            "{\"model\":\"tiny\",\"prompt\":\"Once upon\",\"max_tokens\":3}");
  }

  @Test
  void versionsMapToPairings() {
    assertThat(NixlPairing.ofVersion("0.11.2")).isEqualTo(NixlPairing.SHARED_REQUEST_ID);
    assertThat(NixlPairing.ofVersion("0.9.0rc1")).isEqualTo(NixlPairing.SHARED_REQUEST_ID);
    assertThat(NixlPairing.ofVersion("0.12.0")).isEqualTo(NixlPairing.REMOTE_REQUEST_ID);
    assertThat(NixlPairing.ofVersion("0.14.1.dev12+gabc")).isEqualTo(NixlPairing.REMOTE_REQUEST_ID);
    assertThat(NixlPairing.ofVersion("1.0.0")).isEqualTo(NixlPairing.REMOTE_REQUEST_ID);
    assertThat(NixlPairing.ofVersion("dev")).isEqualTo(NixlPairing.UNKNOWN);
    assertThat(NixlPairing.sharedRequestId("abc", false)).isEqualTo("cmpl-abc-0");
    assertThat(NixlPairing.sharedRequestId("abc", true)).isEqualTo("chatcmpl-abc");
  }

  @ParameterizedTest(name = "prefill {0}, decode {1}, chat {2}")
  @CsvSource({
    "0.11.2, 0.11.2, false",
    "0.11.2, 0.11.2, true",
    "0.11.2, 0.12.0, false",
    "0.11.2, 0.12.0, true",
    "0.12.0, 0.12.0, false",
    "0.13.1, 0.12.0, true"
  })
  void everyPairThatCanFreeThePrefillsBlocksWorks(String pv, String dv, boolean chat)
      throws Exception {
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL, pv);
    VllmStandIn decode = standIn(VllmStandIn.Kind.DECODE, dv);
    Gateway g = gateway(prefill, decode);
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> r = complete(g, chat);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    // every request paired (a retry on this loaded machine may add a leg; none may be refused)
    assertThat(decode.decodeLegs.get()).isGreaterThanOrEqualTo(3);
    String kv = decode.received.getLast().get("kv_transfer_params").toString();
    if (pv.startsWith("0.11")) {
      // the old prefill named none: the gateway filled in the id that prefill gave the request
      String id = decode.receivedHeaders.getLast().get("x-request-id");
      assertThat(decode.received.getLast().path("kv_transfer_params").path("remote_request_id"))
          .as(kv)
          .hasToString('"' + NixlPairing.sharedRequestId(id, chat) + '"');
    }
  }

  @Test
  void aDecodeWorkerThatCannotFreeANewerPrefillsBlocksIsNotPaired() throws Exception {
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL, "0.12.0");
    VllmStandIn oldDecode = standIn(VllmStandIn.Kind.DECODE, "0.11.2");
    VllmStandIn newDecode = standIn(VllmStandIn.Kind.DECODE, "0.12.0");
    Gateway g = gateway(prefill, oldDecode, newDecode);
    for (int i = 0; i < 6; i++) {
      assertThat(complete(g, i % 2 == 0).statusCode()).isEqualTo(200);
    }
    assertThat(oldDecode.requests()).isZero();
    assertThat(newDecode.decodeLegs.get()).isEqualTo(6);
    assertThat(prefill.prefillLegs.get()).isEqualTo(6);
    assertThat(prefill.violations).isEmpty();
    assertThat(newDecode.violations).isEmpty();
  }

  @Test
  void withOnlySuchADecodeWorkerTheClientGetsAClearErrorAndNoPrefillRuns() throws Exception {
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL, "0.12.0");
    VllmStandIn oldDecode = standIn(VllmStandIn.Kind.DECODE, "0.11.2");
    Gateway g = gateway(prefill, oldDecode);
    HttpResponse<String> r = complete(g, false);
    assertThat(r.statusCode()).isEqualTo(502);
    assertThat(r.body()).contains("shared-request-id pairing").contains("remote_request_id");
    assertThat(prefill.prefillLegs.get()).isZero(); // no KV held for a decode that cannot free it
    assertThat(oldDecode.requests()).isZero();
    Worker w = g.pools().iterator().next().find(oldDecode.url());
    assertThat(w.breaker().state()).isEqualTo(CircuitBreaker.State.CLOSED); // not its fault
  }
}
