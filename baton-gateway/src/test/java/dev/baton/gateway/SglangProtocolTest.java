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

/** The SGLang bootstrap adapter against stand-ins that check the injected fields. */
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
                          - {url: "%s", role: prefill, bootstrap_port: 9123}
                          - {url: "%s", role: decode}
                    """
                        .formatted(prefill.url(), decode.url())),
                null,
                null)
            .start(0);
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
