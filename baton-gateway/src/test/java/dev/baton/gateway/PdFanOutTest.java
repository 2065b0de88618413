package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batches of prompts and {@code n > 1} in a NixlConnector P/D pool: one prefill leg (one lease) and
 * one decode leg per prompt and sample, each leg a single sequence (the stand-ins refuse anything
 * else, as kv_transfer_params name one sequence's KV), merged into one OpenAI answer.
 */
class PdFanOutTest {
  static VllmStandIn prefill;
  static VllmStandIn decode;
  static Gateway gateway;

  @BeforeAll
  static void start() throws Exception {
    prefill = new VllmStandIn(VllmStandIn.Kind.PREFILL, "tiny");
    decode = new VllmStandIn(VllmStandIn.Kind.DECODE, "tiny");
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    """
                    pools:
                      - name: pd
                        mode: nixl
                        workers:
                          - {url: "%s", role: prefill}
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

  static String url(String path) {
    return "http://127.0.0.1:" + gateway.port() + path;
  }

  /** Text per choice index, from a whole answer or a stream. */
  static Map<Integer, String> texts(String body, boolean chat) {
    Map<Integer, String> out = new TreeMap<>();
    if (!body.startsWith("data:")) {
      for (JsonNode c : Json.parse(body).path("choices")) {
        out.put(
            c.path("index").asInt(),
            chat ? c.path("message").path("content").asText() : c.path("text").asText());
      }
      return out;
    }
    for (String line : body.split("\n")) {
      if (!line.startsWith("data: {")) {
        continue;
      }
      for (JsonNode c : Json.parse(line.substring(6)).path("choices")) {
        String t = chat ? c.path("delta").path("content").asText("") : c.path("text").asText("");
        out.merge(c.path("index").asInt(), t, String::concat);
      }
    }
    return out;
  }

  @ParameterizedTest(name = "stream={0}")
  @ValueSource(booleans = {false, true})
  void aBatchOfTwoPromptsWithTwoSamplesEachIsFourLegsOfOneSequence(boolean stream) {
    int prefills = prefill.prefillLegs.get();
    int decodes = decode.decodeLegs.get();
    String body =
        ("{\"model\":\"tiny\",\"prompt\":[\"Once\",\"Twice w0 w1\"],\"n\":2,\"max_tokens\":3,"
                + "\"seed\":7,\"stream\":%s%s}")
            .formatted(stream, stream ? ",\"stream_options\":{\"include_usage\":true}" : "");
    HttpResponse<String> r = Http.post(url("/v1/completions"), body);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(prefill.violations).isEmpty();
    assertThat(decode.violations).isEmpty();
    assertThat(prefill.prefillLegs.get() - prefills).isEqualTo(4);
    assertThat(decode.decodeLegs.get() - decodes).isEqualTo(4);
    // Four distinct leases, each pulled by exactly one decode leg.
    Set<String> leases = new HashSet<>();
    Set<Long> seeds = new HashSet<>();
    for (var sent : decode.received.subList(decode.received.size() - 4, decode.received.size())) {
      leases.add(sent.path("kv_transfer_params").path("remote_request_id").asText());
      seeds.add(sent.path("seed").asLong());
    }
    assertThat(leases).hasSize(4);
    assertThat(seeds).containsExactlyInAnyOrder(7L, 8L);
    // Choices numbered prompt * n + sample, as an engine numbers them.
    assertThat(texts(r.body(), false))
        .containsExactly(
            Map.entry(0, " w0 w1 w2"),
            Map.entry(1, " w0 w1 w2"),
            Map.entry(2, " w2 w3 w4"),
            Map.entry(3, " w2 w3 w4"));
    if (stream) {
      assertThat(Http.endsWithDone(r.body())).isTrue();
      assertThat(r.body().split("data: \\[DONE]", -1)).hasSize(2); // exactly one [DONE]
      JsonNode usage = null;
      Set<String> ids = new HashSet<>();
      for (String line : r.body().split("\n")) {
        if (line.startsWith("data: {")) {
          JsonNode chunk = Json.parse(line.substring(6));
          ids.add(chunk.path("id").asText());
          if (chunk.has("usage") && chunk.path("choices").isEmpty()) {
            assertThat(usage).as("one usage chunk").isNull();
            usage = chunk.get("usage");
          }
        }
      }
      assertThat(ids).as("one id for the merged stream").hasSize(1);
      assertThat(usage.path("completion_tokens").asInt()).isEqualTo(12);
    } else {
      JsonNode usage = Json.parse(r.body()).path("usage");
      // The stand-in counts length/4 prompt tokens: "Once" 1, "Twice w0 w1" 2, each counted once.
      assertThat(usage.path("prompt_tokens").asInt()).isEqualTo(3);
      assertThat(usage.path("completion_tokens").asInt()).isEqualTo(12);
      assertThat(usage.path("total_tokens").asInt()).isEqualTo(15);
      assertThat(Json.parse(r.body()).path("kv_transfer_params").isNull()).isTrue();
    }
  }

  @Test
  void chatWithThreeSamplesIsThreeLegs() {
    int decodes = decode.decodeLegs.get();
    HttpResponse<String> r =
        Http.post(
            url("/v1/chat/completions"),
            "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi w0\"}],"
                + "\"n\":3,\"max_tokens\":2,\"stream\":true}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(decode.violations).isEmpty();
    assertThat(decode.decodeLegs.get() - decodes).isEqualTo(3);
    assertThat(texts(r.body(), true))
        .containsExactly(Map.entry(0, " w1 w2"), Map.entry(1, " w1 w2"), Map.entry(2, " w1 w2"));
  }

  @Test
  void oneTokenPromptAndOneSampleIsNotSplit() {
    int prefills = prefill.prefillLegs.get();
    HttpResponse<String> r =
        Http.post(
            url("/v1/completions"), "{\"model\":\"tiny\",\"prompt\":[5,6,7],\"max_tokens\":2}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(prefill.prefillLegs.get() - prefills).isEqualTo(1);
    assertThat(prefill.violations).isEmpty();
  }

  @Test
  void aDecodeFailureInOnePartIsRetriedForThatPartOnly() {
    int prefills = prefill.prefillLegs.get();
    decode.failNext.set(1);
    HttpResponse<String> r =
        Http.post(
            url("/v1/completions"),
            "{\"model\":\"tiny\",\"prompt\":[\"a\",\"b\"],\"max_tokens\":2}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(texts(r.body(), false)).hasSize(2);
    assertThat(prefill.prefillLegs.get() - prefills).isEqualTo(3);
  }

  @Test
  void tooManyPartsIsAClear400() {
    int before = prefill.requests();
    HttpResponse<String> r =
        Http.post(
            url("/v1/completions"), "{\"model\":\"tiny\",\"prompt\":[\"a\",\"b\"],\"n\":100}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(Json.parse(r.body()).path("error").path("message").asText())
        .contains("at most " + PdFanOut.MAX_PARTS);
    assertThat(prefill.requests()).isEqualTo(before);
  }
}
