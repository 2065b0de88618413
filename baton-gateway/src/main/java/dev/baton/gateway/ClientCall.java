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
    long startNanos) {

  boolean chat() {
    return path.endsWith("chat/completions");
  }

  boolean stream() {
    return body.path("stream").asBoolean(false);
  }
}
