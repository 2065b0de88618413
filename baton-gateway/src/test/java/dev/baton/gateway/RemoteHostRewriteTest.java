package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.gateway.protocol.NixlProtocol;
import org.junit.jupiter.api.Test;

/** The decode leg dials the prefill worker where the gateway reaches it. */
class RemoteHostRewriteTest {

  private static ObjectNode json(String text) {
    return (ObjectNode) Json.parse(text);
  }

  @Test
  void aPrefillWorkerThatReportsLocalhostIsDialedAtTheAddressTheGatewayKnows() {
    Worker prefill =
        new Worker(
            new WorkerSpec("http://10.1.2.3:8000", dev.baton.core.Role.PREFILL, null, 8998),
            new CircuitBreaker(3, 1000, System::nanoTime));
    ObjectNode d =
        new NixlProtocol()
            .decodeRequest(
                json("{}"),
                prefill,
                null,
                Json.parse(
                    "{\"kv_transfer_params\":{\"remote_host\":\"127.0.0.1\",\"remote_port\":5600}}"));
    assertThat(d.at("/kv_transfer_params/remote_host").asText()).isEqualTo("10.1.2.3");
    ObjectNode kept =
        new NixlProtocol()
            .decodeRequest(
                json("{}"),
                prefill,
                null,
                Json.parse("{\"kv_transfer_params\":{\"remote_host\":\"10.9.9.9\"}}"));
    assertThat(kept.at("/kv_transfer_params/remote_host").asText())
        .as("a real address the worker reports is kept")
        .isEqualTo("10.9.9.9");
  }
}
