package dev.baton.gateway.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import org.junit.jupiter.api.Test;

class PdProtocolsTest {

  private static ObjectNode json(String text) {
    return (ObjectNode) Json.parse(text);
  }

  @Test
  void namesAndAliasesResolveToTheirProtocol() {
    assertThat(PdProtocols.create("nixl")).isInstanceOf(NixlProtocol.class);
    assertThat(PdProtocols.create("vllm")).isInstanceOf(NixlProtocol.class);
    assertThat(PdProtocols.create("baton")).isInstanceOf(NixlProtocol.class);
    assertThat(PdProtocols.create("sglang")).isInstanceOf(SglangProtocol.class);
    assertThat(PdProtocols.create("plain")).isInstanceOf(ColocatedProtocol.class);
    assertThatThrownBy(() -> PdProtocols.create("mooncake"))
        .hasMessageContaining("mode must be nixl, sglang or colocated, not 'mooncake'");
  }

  @Test
  void nixlPrefillLegIsOneNonStreamingTokenAskingForRemoteDecode() {
    ObjectNode client =
        json(
            "{\"prompt\":\"p\",\"stream\":true,\"max_tokens\":9,\"min_tokens\":2,"
                + "\"stream_options\":{\"include_usage\":true}}");
    ObjectNode p = new NixlProtocol().prefillRequest(client, null);
    assertThat(p.get("stream").asBoolean()).isFalse();
    assertThat(p.get("max_tokens").asInt()).isEqualTo(1);
    assertThat(p.has("max_completion_tokens")).as("set only where the client used it").isFalse();
    assertThat(p.has("min_tokens") || p.has("stream_options")).isFalse();
    assertThat(p.get("kv_transfer_params"))
        .isEqualTo(
            Json.parse(
                "{\"do_remote_decode\":true,\"do_remote_prefill\":false,"
                    + "\"remote_engine_id\":null,\"remote_block_ids\":null,"
                    + "\"remote_host\":null,\"remote_port\":null}"));
    assertThat(client.get("max_tokens").asInt())
        .as("the client's body is not changed")
        .isEqualTo(9);
  }

  @Test
  void nixlDecodeLegCarriesThePrefillsParamsOrIsTheOriginalRequestWithoutThem() {
    ObjectNode client = json("{\"prompt\":\"p\",\"max_tokens\":9}");
    NixlProtocol nixl = new NixlProtocol();
    ObjectNode withKv =
        nixl.decodeRequest(
            client,
            null,
            null,
            Json.parse("{\"kv_transfer_params\":{\"remote_request_id\":\"r\"}}"));
    assertThat(withKv.path("kv_transfer_params").path("remote_request_id").asText()).isEqualTo("r");
    // The first token ended the request (EOS or a stop string): vLLM answers without params and
    // its proxy sends decode the original request.
    ObjectNode without =
        nixl.decodeRequest(client, null, null, Json.parse("{\"kv_transfer_params\":null}"));
    assertThat(without).isEqualTo(client);
  }

  @Test
  void sglangSendsTheSameBootstrapBodyToBothLegs() {
    SglangProtocol sglang = new SglangProtocol();
    assertThat(sglang.concurrentLegs()).isTrue();
    assertThat(sglang.migratable()).isFalse();
    ObjectNode body = json("{\"prompt\":[\"a\",\"b\"]}");
    assertThat(SglangProtocol.batchSize(body)).isEqualTo(2);
    assertThat(SglangProtocol.batchSize(json("{\"prompt\":[1,2,3]}"))).isEqualTo(1);
  }

  @Test
  void nixlPrefillLegCapsMaxCompletionTokensOnlyWhereUsedAndDropsEveryMinimum() {
    ObjectNode p =
        new NixlProtocol()
            .prefillRequest(
                json("{\"max_completion_tokens\":50,\"min_completion_tokens\":3,\"min_tokens\":2}"),
                null);
    assertThat(p.get("max_completion_tokens").asInt()).isEqualTo(1);
    assertThat(p.has("min_completion_tokens") || p.has("min_tokens")).isFalse();
  }
}
