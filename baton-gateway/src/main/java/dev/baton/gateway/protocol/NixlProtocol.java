package dev.baton.gateway.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.KvTransferParams;
import dev.baton.gateway.Worker;

/**
 * vLLM's NixlConnector request protocol (Baton workers speak it too): the prefill worker gets the
 * request made non-streaming with one output token and {@code do_remote_decode}; its answer's
 * {@code kv_transfer_params} tell the decode worker where to pull the KV from.
 */
public final class NixlProtocol implements PdProtocol {

  public static final String NAME = "nixl";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean hasPrefillLeg() {
    return true;
  }

  @Override
  public boolean concurrentLegs() {
    return false;
  }

  /**
   * The client's request made non-streaming, one token, asking for remote decode: {@code
   * max_tokens} 1, {@code max_completion_tokens} 1 only where the client used it, and no minimum (a
   * minimum above one token would contradict the budget).
   */
  @Override
  public ObjectNode prefillRequest(ObjectNode client, Worker prefill) {
    ObjectNode p = client.deepCopy();
    p.put("stream", false);
    p.put("max_tokens", 1);
    if (p.has("max_completion_tokens")) {
      p.put("max_completion_tokens", 1);
    }
    p.remove("stream_options");
    p.remove("min_tokens");
    p.remove("min_completion_tokens");
    p.set("kv_transfer_params", KvTransferParams.prefillRequest().toJson());
    return p;
  }

  /**
   * The client's original request plus the prefill's {@code kv_transfer_params} as given. An answer
   * without them (the first token ended the request) sends decode the original request, as vLLM's
   * proxy does.
   */
  @Override
  public ObjectNode decodeRequest(
      ObjectNode client, Worker prefill, ObjectNode prefillRequest, JsonNode prefillAnswer) {
    return decodeRequest(client, prefill, prefillRequest, prefillAnswer, null, false);
  }

  /**
   * As above; and when the prefill answer names no {@code remote_request_id} (a vLLM before 0.12,
   * see {@link NixlPairing}), the id that prefill worker gave the request is filled in: a newer
   * decode worker reads the field unconditionally, an older one ignores it and notifies the same id
   * (both legs carry the same {@code X-Request-Id}).
   */
  @Override
  public ObjectNode decodeRequest(
      ObjectNode client,
      Worker prefill,
      ObjectNode prefillRequest,
      JsonNode prefillAnswer,
      String requestId,
      boolean chat) {
    ObjectNode d = client.deepCopy();
    JsonNode kv = prefillAnswer == null ? null : prefillAnswer.get("kv_transfer_params");
    if (kv != null && kv.isObject()) {
      ObjectNode params = kv.deepCopy();
      String reported = params.path("remote_host").asText("");
      if (prefill != null && isLocal(reported) && !isLocal(prefill.host())) {
        // A worker that only knows itself as localhost: the decode worker must dial the address
        // the gateway reaches the prefill worker at.
        params.put("remote_host", prefill.host());
      }
      if (!params.path("remote_request_id").isTextual() && requestId != null) {
        params.put("remote_request_id", NixlPairing.sharedRequestId(requestId, chat));
      }
      d.set("kv_transfer_params", params);
    } else {
      d.remove("kv_transfer_params");
    }
    return d;
  }

  private static boolean isLocal(String host) {
    String h = host.toLowerCase(java.util.Locale.ROOT);
    return h.equals("localhost")
        || h.startsWith("127.")
        || h.equals("::1")
        || h.equals("[::1]")
        || h.equals("0.0.0.0");
  }

  @Override
  public boolean migratable() {
    return true;
  }
}
