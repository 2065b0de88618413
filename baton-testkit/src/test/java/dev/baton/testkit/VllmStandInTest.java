package dev.baton.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The vLLM stand-in's KV hand-off follows vLLM's NixlConnector (nixl/pull_scheduler.py,
 * nixl/pull_worker.py): what a prefill answers, and what a decode worker does with params that
 * cannot be pulled the normal way. Talked to directly, as a gateway would.
 */
class VllmStandInTest {

  private static final HttpClient CLIENT = HttpClient.newHttpClient();
  private static final String PROMPT = "0123456789012345678901234567890123456789"; // 40 tokens

  VllmStandIn prefill;
  VllmStandIn decode;

  @BeforeEach
  void start() throws Exception {
    prefill = new VllmStandIn(VllmStandIn.Kind.PREFILL, "m");
    decode = new VllmStandIn(VllmStandIn.Kind.DECODE, "m");
  }

  @AfterEach
  void stop() {
    prefill.close();
    decode.close();
  }

  static HttpResponse<String> post(String url, String body) throws Exception {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String request(String prompt, JsonNode kv) {
    ObjectNode r = Json.object();
    r.put("model", "m");
    r.put("prompt", prompt);
    r.put("max_tokens", 3);
    if (kv != null) {
      r.set("kv_transfer_params", kv);
    }
    return Json.write(r);
  }

  /** Runs a prefill leg and returns the params it answered with. */
  ObjectNode prefilled(String prompt) throws Exception {
    ObjectNode p = Json.object();
    p.put("model", "m");
    p.put("prompt", prompt);
    p.put("max_tokens", 1);
    p.put("stream", false);
    ObjectNode kv = p.putObject("kv_transfer_params");
    kv.put("do_remote_decode", true);
    kv.put("do_remote_prefill", false);
    for (String f : new String[] {"remote_engine_id", "remote_block_ids", "remote_host"}) {
      kv.putNull(f);
    }
    kv.putNull("remote_port");
    HttpResponse<String> r = post(prefill.url(), Json.write(p));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return (ObjectNode) Json.parse(r.body()).get("kv_transfer_params");
  }

  static String text(HttpResponse<String> r) {
    return Json.parse(r.body()).at("/choices/0/text").asText();
  }

  @Test
  void aPrefillHoldsOneBlockPerBlockSizeOfPromptTokensAndNamesThemAsCurrentVllmDoes()
      throws Exception {
    ObjectNode kv = prefilled(PROMPT);
    assertThat(kv.get("remote_block_ids")).hasSize(1); // one KV-cache group
    assertThat(kv.get("remote_block_ids").get(0)).hasSize(3); // cdiv(40, 16)
    assertThat(kv.get("remote_num_tokens").asInt()).isEqualTo(40);
    for (String f :
        new String[] {
          "remote_engine_id",
          "remote_request_id",
          "remote_host",
          "remote_port",
          "tp_size",
          "dcp_size",
          "pp_size",
          "remote_blocks_expiry_time",
          "transfer_mode"
        }) {
      assertThat(kv.has(f)).as(f).isTrue();
    }
    assertThat(VllmStandIn.holds(kv.get("remote_request_id").asText())).isTrue();
    HttpResponse<String> d = post(decode.url(), request(PROMPT, kv));
    assertThat(d.statusCode()).as(d.body()).isEqualTo(200);
    assertThat(text(d)).isEqualTo(" w0 w1 w2");
    assertThat(decode.violations).isEmpty();
    assertThat(VllmStandIn.holds(kv.get("remote_request_id").asText())).isFalse(); // freed
  }

  @Test
  void aSecondPullOfTheSameBlocksReadsFreedBlocksAndAnswersWrongTokens() throws Exception {
    ObjectNode kv = prefilled(PROMPT);
    assertThat(post(decode.url(), request(PROMPT, kv)).statusCode()).isEqualTo(200);
    HttpResponse<String> again = post(decode.url(), request(PROMPT, kv));
    assertThat(again.statusCode()).isEqualTo(200); // as vLLM: nothing tells the decode side
    assertThat(text(again)).isNotEqualTo(" w0 w1 w2");
    assertThat(decode.violations).singleElement().asString().contains("no prefill holds");
  }

  @Test
  void aPullAfterTheLeaseExpiredReadsFreedBlocks() throws Exception {
    prefill.leaseMs = 1;
    ObjectNode kv = prefilled(PROMPT);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> !VllmStandIn.holds(kv.get("remote_request_id").asText()));
    HttpResponse<String> late = post(decode.url(), request(PROMPT, kv));
    assertThat(late.statusCode()).isEqualTo(200);
    assertThat(text(late)).isNotEqualTo(" w0 w1 w2");
    assertThat(decode.violations).singleElement().asString().contains("lease expired");
  }

  @Test
  void aDecodePromptOtherThanThePrefilledOneIsCaught() throws Exception {
    ObjectNode kv = prefilled(PROMPT);
    HttpResponse<String> longer = post(decode.url(), request(PROMPT + PROMPT, kv));
    assertThat(longer.statusCode()).isEqualTo(200);
    assertThat(decode.violations).singleElement().asString().contains("blocks");
    ObjectNode kv2 = prefilled(PROMPT);
    post(decode.url(), request(PROMPT.replace('0', 'x'), kv2));
    assertThat(decode.violations).last().asString().contains("differs");
  }

  @Test
  void aRemotePrefillWithoutBlocksKillsTheEngineAsVllmsAssertionDoes() throws Exception {
    ObjectNode kv = prefilled(PROMPT);
    kv.remove("remote_block_ids");
    HttpResponse<String> r = post(decode.url(), request(PROMPT, kv));
    assertThat(r.statusCode()).isEqualTo(500);
    JsonNode error = Json.parse(r.body()).get("error");
    assertThat(error.get("code").asInt()).isEqualTo(500);
    assertThat(error.get("message").asText()).contains("EngineCore encountered an issue");
    assertThat(post(decode.url(), request("fine", null)).statusCode()).isEqualTo(500);
    HttpResponse<String> health =
        CLIENT.send(
            HttpRequest.newBuilder(URI.create(decode.url() + "/health")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(503);
  }

  @Test
  void paramsWithoutAnAddressFieldAreInvalidAndTheRequestNeverGetsItsKv() throws Exception {
    ObjectNode kv = prefilled(PROMPT);
    kv.remove("remote_engine_id");
    HttpResponse<String> r = post(decode.url(), request(PROMPT, kv));
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(decode.violations).singleElement().asString().contains("invalid KVTransferParams");
    assertThat(decode.engineDead).isFalse();
  }

  @Test
  void protocolViolationsAreAnsweredInVllmsErrorShape() throws Exception {
    HttpResponse<String> r =
        post(
            prefill.url(),
            "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":5,"
                + "\"kv_transfer_params\":{\"do_remote_decode\":true}}");
    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode error = Json.parse(r.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("BadRequestError");
    assertThat(error.get("code").asInt()).isEqualTo(400);
    assertThat(error.has("param")).isTrue();
    assertThat(error.get("message").asText()).contains("max_tokens=1");
  }
}
