package dev.baton.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.config.ConfigNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A request's {@code kv_transfer_params} in vLLM's NixlConnector protocol, plus Baton's {@code
 * remote_lease_token} (the capability that lets a decode worker read the prefill worker's leased
 * blocks; see docs/KV_TRANSFER.md).
 *
 * <p>The gateway sends {@code do_remote_decode=true} to the prefill worker; the prefill worker
 * answers with {@code do_remote_prefill=true} and where to pull from; the gateway passes that on to
 * the decode worker.
 */
public record KvTransferParams(
    boolean doRemoteDecode,
    boolean doRemotePrefill,
    String remoteEngineId,
    String remoteRequestId,
    List<Integer> remoteBlockIds,
    String remoteHost,
    Integer remotePort,
    Integer tpSize,
    String remoteLeaseToken) {

  public KvTransferParams {
    remoteBlockIds = remoteBlockIds == null ? null : List.copyOf(remoteBlockIds);
  }

  /** What a gateway sends to a prefill worker. */
  public static KvTransferParams prefillRequest() {
    return new KvTransferParams(true, false, null, null, null, null, null, null, null);
  }

  /** What a prefill worker answers: where and with which lease the decode side pulls. */
  public static KvTransferParams prefillAnswer(
      String engineId,
      String requestId,
      List<Integer> blockIds,
      String host,
      int port,
      String leaseToken) {
    return new KvTransferParams(
        false, true, engineId, requestId, blockIds, host, port, 1, leaseToken);
  }

  /**
   * Reads {@code kv_transfer_params}; null or JSON null gives null. Fields of the wrong type are an
   * IllegalArgumentException naming the field (the worker turns it into HTTP 400).
   */
  public static KvTransferParams fromJson(JsonNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isObject()) {
      throw new IllegalArgumentException("kv_transfer_params must be a JSON object");
    }
    List<Integer> blocks = null;
    JsonNode blockNode = node.get("remote_block_ids");
    if (blockNode != null && !blockNode.isNull()) {
      if (!blockNode.isArray()) {
        throw new IllegalArgumentException("kv_transfer_params.remote_block_ids must be an array");
      }
      blocks = new ArrayList<>(blockNode.size());
      for (JsonNode id : blockNode) {
        if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
          throw new IllegalArgumentException(
              "kv_transfer_params.remote_block_ids must hold non-negative integers, got " + id);
        }
        blocks.add(id.asInt());
      }
    }
    ConfigNode n = ConfigNode.strict("kv_transfer_params", node);
    return new KvTransferParams(
        n.bool("do_remote_decode", false),
        n.bool("do_remote_prefill", false),
        n.text("remote_engine_id", null),
        n.text("remote_request_id", null),
        blocks,
        n.text("remote_host", null),
        n.has("remote_port") ? n.integer("remote_port", 0) : null,
        n.has("tp_size") ? n.integer("tp_size", 0) : null,
        n.text("remote_lease_token", null));
  }

  public ObjectNode toJson() {
    ObjectNode out = Json.object();
    out.put("do_remote_decode", doRemoteDecode);
    out.put("do_remote_prefill", doRemotePrefill);
    out.put("remote_engine_id", remoteEngineId);
    if (remoteRequestId != null) {
      out.put("remote_request_id", remoteRequestId); // vLLM's proxy sends none to the prefill
    }
    if (remoteBlockIds == null) {
      out.putNull("remote_block_ids");
    } else {
      ArrayNode ids = out.putArray("remote_block_ids");
      remoteBlockIds.forEach(ids::add);
    }
    out.put("remote_host", remoteHost);
    out.put("remote_port", remotePort);
    if (tpSize != null) {
      out.put("tp_size", tpSize);
    }
    if (remoteLeaseToken != null) {
      out.put("remote_lease_token", remoteLeaseToken);
    }
    return out;
  }

  /**
   * Why these params cannot drive a pull, or null when they can: a decode request needs the request
   * id, blocks, host, port and lease token.
   */
  public String pullProblem() {
    if (remoteRequestId == null || remoteRequestId.isEmpty()) {
      return "remote_request_id is missing";
    }
    if (remoteBlockIds == null) {
      return "remote_block_ids is missing";
    }
    if (remoteHost == null || remoteHost.isEmpty()) {
      return "remote_host is missing";
    }
    if (remotePort == null || remotePort <= 0 || remotePort > 65535) {
      return "remote_port is missing or out of range";
    }
    if (remoteLeaseToken == null || remoteLeaseToken.isEmpty()) {
      return "remote_lease_token is missing (the prefill worker is not a Baton P2P producer?)";
    }
    if (tpSize != null && tpSize != 1) {
      return "tp_size " + tpSize + " is not supported (Baton workers have tp_size 1)";
    }
    return null;
  }
}
