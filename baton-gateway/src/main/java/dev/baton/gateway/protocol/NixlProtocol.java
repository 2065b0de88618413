package dev.baton.gateway.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.KvTransferParams;
import dev.baton.gateway.Worker;
import java.util.logging.Logger;

/**
 * vLLM's NixlConnector request protocol (Baton workers speak it too): the prefill worker gets the
 * request made non-streaming with one output token and {@code do_remote_decode}; its answer's
 * {@code kv_transfer_params} tell the decode worker where to pull the KV from.
 */
public final class NixlProtocol implements PdProtocol {

  private static final Logger LOG = Logger.getLogger(NixlProtocol.class.getName());

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
    return decodeRequest(client, prefill, null, prefillRequest, prefillAnswer, null, false);
  }

  /**
   * As above; and when the prefill answer names no {@code remote_request_id} (a vLLM before 0.12,
   * see {@link NixlPairing}), the id that prefill worker gave the request is filled in: a newer
   * decode worker reads the field unconditionally, an older one ignores it and notifies the same id
   * (both legs carry the same {@code X-Request-Id}). A vLLM decode worker (one that tells its
   * version) gets only params it can pull with ({@link #pullProblem}); others (Baton's offload
   * connector answers without block ids, for Baton decode workers) pass as they are.
   */
  @Override
  public ObjectNode decodeRequest(
      ObjectNode client,
      Worker prefill,
      Worker decode,
      ObjectNode prefillRequest,
      JsonNode prefillAnswer,
      String requestId,
      boolean chat) {
    ObjectNode d = client.deepCopy();
    JsonNode kv = prefillAnswer == null ? null : prefillAnswer.get("kv_transfer_params");
    boolean vllmDecode = decode != null && decode.nixlPairing() != NixlPairing.UNKNOWN;
    String problem = kv == null || kv.isNull() || !vllmDecode ? null : pullProblem(kv);
    if (problem != null) {
      // vLLM's NixlConnector given these would crash its engine core (it asserts on a remote
      // prefill without blocks) or park the request for good (an address field absent): the
      // decode worker computes the prompt itself instead, as for an answer without params.
      LOG.warning(
          () ->
              "prefill worker "
                  + (prefill == null ? "?" : prefill.url())
                  + " answered kv_transfer_params a decode worker cannot pull from ("
                  + problem
                  + "); decode computes the prompt itself");
      kv = null;
    }
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

  /**
   * Why a prefill answer's {@code kv_transfer_params} cannot drive a decode worker's pull, or null
   * when they can: what vLLM's decode side needs ({@code do_remote_prefill}, blocks as a flat list
   * or one list per KV-cache group, {@code remote_engine_id}, {@code remote_host}, {@code
   * remote_port}; {@code remote_request_id} is filled in by {@link #decodeRequest} where missing).
   */
  static String pullProblem(JsonNode kv) {
    if (!kv.isObject()) {
      return "not a JSON object";
    }
    if (!kv.path("do_remote_prefill").asBoolean(false)) {
      return "do_remote_prefill is not true";
    }
    if (!hasBlocks(kv.get("remote_block_ids"))) {
      return "remote_block_ids is missing or empty";
    }
    if (kv.path("remote_engine_id").isNull() || kv.path("remote_engine_id").isMissingNode()) {
      return "remote_engine_id is missing";
    }
    if (!kv.path("remote_host").isTextual() || kv.path("remote_host").asText().isBlank()) {
      return "remote_host is missing";
    }
    JsonNode port = kv.path("remote_port");
    if (!port.isIntegralNumber() || port.asLong() < 1 || port.asLong() > 65535) {
      return "remote_port is missing or out of range";
    }
    return null;
  }

  private static boolean hasBlocks(JsonNode ids) {
    if (ids == null || !ids.isArray() || ids.isEmpty()) {
      return false;
    }
    boolean any = false;
    for (JsonNode id : ids) {
      if (id.isArray()) {
        for (JsonNode inner : id) {
          if (!inner.isIntegralNumber()) {
            return false;
          }
          any = true;
        }
      } else if (id.isIntegralNumber()) {
        any = true;
      } else {
        return false;
      }
    }
    return any;
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
