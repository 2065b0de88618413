package dev.baton.gateway.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.gateway.Worker;

/**
 * How one engine family runs a request's prefill and decode legs: which body each leg gets and
 * whether the legs run one after the other (vLLM's NixlConnector proxy) or at once (SGLang's
 * bootstrap). The gateway's flow sends the bodies, relays the answer and retries; a protocol only
 * builds bodies, so each is tested without a network. Registered by name in {@link PdProtocols}.
 */
public interface PdProtocol {

  /** The name a pool's {@code mode} uses. */
  String name();

  /** False for colocated serving: the one worker gets the client's request as is. */
  boolean hasPrefillLeg();

  /** True when both legs are sent together; false when decode waits for prefill's answer. */
  boolean concurrentLegs();

  /** The body sent to the prefill worker. */
  ObjectNode prefillRequest(ObjectNode client, Worker prefill);

  /**
   * The body sent to the decode worker. {@code prefillAnswer} is the prefill worker's JSON answer
   * for sequential protocols and null for concurrent ones; {@code prefill} is the worker that
   * prefilled (null for colocated serving).
   */
  ObjectNode decodeRequest(
      ObjectNode client, Worker prefill, ObjectNode prefillRequest, JsonNode prefillAnswer);

  /**
   * {@link #decodeRequest(ObjectNode, Worker, ObjectNode, JsonNode)} for the request the gateway
   * sent with {@code X-Request-Id: requestId} (vLLM's older pairing derives the prefill's id from
   * it) to the worker {@code decode}.
   */
  default ObjectNode decodeRequest(
      ObjectNode client,
      Worker prefill,
      Worker decode,
      ObjectNode prefillRequest,
      JsonNode prefillAnswer,
      String requestId,
      boolean chat) {
    return decodeRequest(client, prefill, prefillRequest, prefillAnswer);
  }

  /** Whether a decode stream that breaks may be continued on another decode worker. */
  boolean migratable();

  /**
   * Puts the gateway's request id on a leg body where the engine takes one (SGLang's {@code rid},
   * which its {@code /abort_request} names); leaves a body with the client's own id as it is.
   */
  default void tagRequestId(ObjectNode legBody, String requestId) {}

  /**
   * The body that aborts the request a leg body was tagged for on {@link #abortPath()}, or null
   * when the engine has no abort endpoint (vLLM and Baton abort a request when its connection
   * closes).
   */
  default ObjectNode abortRequest(ObjectNode legBody) {
    return null;
  }

  /** Where {@link #abortRequest} is posted. */
  default String abortPath() {
    return null;
  }
}
