package dev.baton.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class KvTransferParamsTest {

  @Test
  void prefillAnswerRoundTripsInVllmFieldNames() {
    KvTransferParams answer =
        KvTransferParams.prefillAnswer(
            "engine-1", "req-9", List.of(4, 5, 6), "127.0.0.1", 9100, "tok");
    String json = Json.write(answer.toJson());
    assertThat(json)
        .contains("\"do_remote_prefill\":true")
        .contains("\"do_remote_decode\":false")
        .contains("\"remote_engine_id\":\"engine-1\"")
        .contains("\"remote_request_id\":\"req-9\"")
        .contains("\"remote_block_ids\":[4,5,6]")
        .contains("\"remote_host\":\"127.0.0.1\"")
        .contains("\"remote_port\":9100")
        .contains("\"tp_size\":1")
        .contains("\"remote_lease_token\":\"tok\"");
    assertThat(KvTransferParams.fromJson(Json.parse(json))).isEqualTo(answer);
    assertThat(answer.pullProblem()).isNull();
  }

  @Test
  void gatewaysPrefillRequestParses() {
    KvTransferParams params =
        KvTransferParams.fromJson(
            Json.parse(
                "{\"do_remote_decode\":true,\"do_remote_prefill\":false,\"remote_engine_id\":null,"
                    + "\"remote_block_ids\":null,\"remote_host\":null,\"remote_port\":null}"));
    assertThat(params).isEqualTo(KvTransferParams.prefillRequest());
    assertThat(KvTransferParams.fromJson(null)).isNull();
  }

  @Test
  void wrongTypesAndMissingFieldsAreNamed() {
    assertThatThrownBy(() -> KvTransferParams.fromJson(Json.parse("{\"remote_port\":\"x\"}")))
        .hasMessageContaining("remote_port");
    assertThatThrownBy(() -> KvTransferParams.fromJson(Json.parse("{\"remote_block_ids\":[1,-2]}")))
        .hasMessageContaining("remote_block_ids");
    assertThatThrownBy(() -> KvTransferParams.fromJson(Json.parse("[]")))
        .hasMessageContaining("JSON object");
    KvTransferParams noToken =
        new KvTransferParams(false, true, "e", "r", List.of(1), "h", 1, 1, null);
    assertThat(noToken.pullProblem()).contains("remote_lease_token");
  }
}
