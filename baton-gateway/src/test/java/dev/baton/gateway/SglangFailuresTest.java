package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.SglangStandIn;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What SGLang does when things go wrong or are switched off, and what the gateway makes of it: a
 * failed KV transfer is answered inside a 200 stream (an error event), and a server started without
 * {@code --enable-metrics} reports its load on {@code /get_load} only.
 */
class SglangFailuresTest {

  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
  }

  SglangStandIn standIn(boolean prefill) throws Exception {
    SglangStandIn s = new SglangStandIn(prefill, 9124);
    open.add(s);
    return s;
  }

  Gateway gateway(String policy, SglangStandIn... workers) {
    StringBuilder list = new StringBuilder();
    for (SglangStandIn w : workers) {
      list.append(
          "      - {url: \"%s\", role: %s}\n".formatted(w.url(), w.prefill ? "prefill" : "decode"));
    }
    Gateway g =
        new Gateway(
                GatewayConfig.parseYaml(
                    "retry: {max_attempts: 3, backoff_ms: 1}\npools:\n  - name: sg\n"
                        + "    mode: sglang\n    policy: "
                        + policy
                        + "\n    workers:\n"
                        + list),
                null,
                null)
            .start(0);
    open.add(g);
    g.checkHealthOnce();
    for (SglangStandIn w : workers) {
      if (w.prefill) { // the health loop may be the one still asking /get_server_info
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> g.pool("sg").find(w.url()).bootstrapPort() == 9124);
      }
    }
    return g;
  }

  @ParameterizedTest(name = "{0} stream={1}")
  @CsvSource({
    "/v1/completions, true",
    "/v1/chat/completions, true",
    "/generate, true",
    "/v1/completions, false"
  })
  void aFailedKvTransferIsRetriedBeforeTheClientSeesAByte(String path, boolean stream)
      throws Exception {
    SglangStandIn prefill = standIn(true);
    SglangStandIn decode = standIn(false);
    Gateway g = gateway("random", prefill, decode);
    prefill.failTransfers.set(1);
    String body =
        switch (path) {
          case "/generate" ->
              "{\"text\":\"hi\",\"sampling_params\":{\"max_new_tokens\":3},\"stream\":%s}";
          case "/v1/chat/completions" ->
              "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                  + "\"max_tokens\":3,\"stream\":%s}";
          default -> "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":3,\"stream\":%s}";
        };
    HttpResponse<String> r =
        Http.post("http://127.0.0.1:" + g.port() + path, body.formatted(stream));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).doesNotContain("error").doesNotContain("abort");
    assertThat(r.body()).contains("s2");
    assertThat(prefill.received).hasSize(2); // the pair ran again with a new room
    assertThat(decode.received).hasSize(2);
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
  }

  @Test
  void withoutMetricsTheLoadComesFromGetLoad() throws Exception {
    SglangStandIn prefill = standIn(true);
    SglangStandIn busy = standIn(false);
    SglangStandIn idle = standIn(false);
    for (SglangStandIn s : List.of(prefill, busy, idle)) {
      s.metricsEnabled = false; // SGLang's default: no --enable-metrics
    }
    busy.queued = 12; // another client's requests wait there
    Gateway g = gateway("least-request", prefill, busy, idle);
    g.scrapeOnce();
    assertThat(g.pool("sg").find(busy.url()).load()).isEqualTo(12);
    assertThat(g.pool("sg").find(idle.url()).load()).isZero();
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> r =
          Http.post(
              "http://127.0.0.1:" + g.port() + "/v1/completions",
              "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":2}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-baton-decode")).contains(idle.url());
    }
    assertThat(busy.received).isEmpty();
  }
}
