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

  /** The client's request made non-streaming, one token, asking for remote decode. */
  @Override
  public ObjectNode prefillRequest(ObjectNode client, Worker prefill) {
    ObjectNode p = client.deepCopy();
    p.put("stream", false);
    p.put("max_tokens", 1);
    p.put("max_completion_tokens", 1);
    p.remove("stream_options");
    p.remove("min_tokens");
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
      ObjectNode client, ObjectNode prefillRequest, JsonNode prefillAnswer) {
    ObjectNode d = client.deepCopy();
    JsonNode kv = prefillAnswer == null ? null : prefillAnswer.get("kv_transfer_params");
    if (kv != null && kv.isObject()) {
      d.set("kv_transfer_params", kv.deepCopy());
    } else {
      d.remove("kv_transfer_params");
    }
    return d;
  }

  @Override
  public boolean migratable() {
    return true;
  }
}
