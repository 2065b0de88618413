package dev.baton.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.gateway.policy.RouteRequest;
import dev.baton.gateway.protocol.PdProtocol;

/**
 * One client request as the flow sees it: the parsed body and its raw bytes (a colocated request is
 * forwarded byte for byte), the API path, the pool and protocol serving it, its routing view, and
 * when it arrived.
 */
record ClientCall(
    ObjectNode body,
    byte[] rawBody,
    String path,
    PoolRuntime pool,
    PdProtocol protocol,
    RouteRequest route,
    long startNanos,
    String requestId) {

  boolean chat() {
    return path.endsWith("chat/completions");
  }

  boolean stream() {
    return body.path("stream").asBoolean(false);
  }

  /**
   * Headers every leg to a worker carries: the request id (both legs share it, so the prefill and
   * decode logs of one request line up), and the pool's worker key where one is configured.
   */
  java.util.Map<String, String> upstreamHeaders() {
    String key = pool.config().workerApiKey();
    return key == null
        ? java.util.Map.of("X-Request-Id", requestId)
        : java.util.Map.of("X-Request-Id", requestId, "Authorization", "Bearer " + key);
  }
}
