package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The KV hand-off between vLLM stand-ins that hold a prefill's blocks as vLLM's NixlConnector does
 * (a lease, pulled once, one block per block size of prompt tokens) through the gateway: every
 * lease is pulled exactly once by a decode leg with the prompt it was prefilled for, and params a
 * vLLM decode worker could not pull from never reach it.
 */
class NixlKvHandoffTest {

  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
  }

  VllmStandIn standIn(VllmStandIn.Kind kind) throws Exception {
    VllmStandIn s = new VllmStandIn(kind, "tiny");
    open.add(s);
    return s;
  }

  Gateway gateway(String mode, VllmStandIn... workers) {
    StringBuilder list = new StringBuilder();
    for (VllmStandIn w : workers) {
      String role = w.kind == VllmStandIn.Kind.PREFILL ? "prefill" : "decode";
      list.append("      - {url: \"%s\", role: %s}\n".formatted(w.url(), role));
    }
    Gateway g =
        new Gateway(
                GatewayConfig.parseYaml(
                    "retry: {max_attempts: 3, backoff_ms: 1}\npools:\n  - name: p\n    mode: "
                        + mode
                        + "\n    policy: round-robin\n    workers:\n"
                        + list),
                null,
                null)
            .start(0);
    open.add(g);
    g.checkHealthOnce(); // learns each worker's /version
    return g;
  }

  static HttpResponse<String> post(Gateway g, String path, String body) {
    return Http.post("http://127.0.0.1:" + g.port() + path, body);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {"no remote_block_ids", "empty remote_block_ids", "no remote_engine_id", "no port"})
  void paramsAVllmDecodeWorkerCannotPullFromNeverReachIt(String broken) throws Exception {
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL);
    VllmStandIn decode = standIn(VllmStandIn.Kind.DECODE);
    UnaryOperator<ObjectNode> breakIt =
        p -> {
          switch (broken) {
            case "no remote_block_ids" -> p.remove("remote_block_ids");
            case "empty remote_block_ids" -> p.putArray("remote_block_ids").addArray();
            case "no remote_engine_id" -> p.remove("remote_engine_id");
            default -> p.remove("remote_port");
          }
          return p;
        };
    prefill.answerParams = breakIt;
    Gateway g = gateway("nixl", prefill, decode);
    String body = "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"max_tokens\":3}";
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> r = post(g, "/v1/completions", body);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(Http.text(r.body(), false)).isEqualTo(" w0 w1 w2");
    }
    assertThat(decode.violations).isEmpty();
    assertThat(decode.engineDead).isFalse();
    assertThat(decode.plainRequests.get()).isEqualTo(2); // computed the prompt itself
    assertThat(decode.received.getLast().has("kv_transfer_params")).isFalse();
  }

  @Test
  void everyLeaseIsPulledOnceWithinItsLeaseForThePromptItHolds() throws Exception {
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL);
    VllmStandIn decode1 = standIn(VllmStandIn.Kind.DECODE);
    VllmStandIn decode2 = standIn(VllmStandIn.Kind.DECODE);
    Gateway g = gateway("nixl", prefill, decode1, decode2);
    String[][] requests = {
      {"/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"%s\",\"max_tokens\":3}"},
      {
        "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"%s\",\"max_tokens\":3,\"stream\":true}"
      },
      {
        "/v1/completions",
        "{\"model\":\"tiny\",\"prompt\":[\"%s\",\"second prompt, longer than the first one\"],"
            + "\"max_tokens\":2,\"n\":2}"
      },
      {
        "/v1/chat/completions",
        "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],"
            + "\"max_tokens\":3,\"stream\":true}"
      }
    };
    for (String[] req : requests) {
      String prompt = "a prompt of some blocks: " + "x".repeat(40);
      HttpResponse<String> r = post(g, req[0], req[1].formatted(prompt));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    assertThat(prefill.violations).isEmpty();
    assertThat(decode1.violations).isEmpty();
    assertThat(decode2.violations).isEmpty();
    assertThat(prefill.issuedIds).hasSize(1 + 1 + 4 + 1);
    for (String id : prefill.issuedIds) {
      assertThat(VllmStandIn.holds(id)).as("blocks of %s still held", id).isFalse();
    }
  }

  @ParameterizedTest(name = "stream {0}")
  @CsvSource({"false", "true"})
  void aPrefillStoppedOnItsFirstTokenThatStillHandsOutKvIsPulledAsUsual(boolean stream)
      throws Exception {
    // Current vLLM hands out KV for FINISHED_STOPPED too (the 0.12-era connector answered null).
    VllmStandIn prefill = standIn(VllmStandIn.Kind.PREFILL);
    VllmStandIn decode = standIn(VllmStandIn.Kind.DECODE);
    prefill.kvOnStop = true;
    Gateway g = gateway("nixl", prefill, decode);
    String body =
        "{\"model\":\"tiny\",\"prompt\":\"abc\",\"max_tokens\":5,\"stop\":[\"w0\"],\"stream\":"
            + stream
            + "}";
    HttpResponse<String> r = post(g, "/v1/completions", body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"finish_reason\":\"stop\"");
    assertThat(Http.text(r.body(), false)).isEmpty();
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(decode.decodeLegs.get()).isEqualTo(1);
    assertThat(VllmStandIn.holds(prefill.issuedIds.getFirst())).isFalse();
  }
}
