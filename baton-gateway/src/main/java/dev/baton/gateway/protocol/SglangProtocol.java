package dev.baton.gateway.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.gateway.Worker;
import java.util.concurrent.ThreadLocalRandom;

/**
 * SGLang's bootstrap protocol: both workers get the same body at once, carrying {@code
 * bootstrap_host}, {@code bootstrap_port} and a random {@code bootstrap_room} per prompt (lists for
 * a batch of prompts), so the decode worker meets the prefill worker's KV in that room.
 */
public final class SglangProtocol implements PdProtocol {

  public static final String NAME = "sglang";

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
    return true;
  }

  @Override
  public ObjectNode prefillRequest(ObjectNode client, Worker prefill) {
    long[] rooms = new long[batchSize(client)];
    for (int i = 0; i < rooms.length; i++) {
      rooms[i] = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
    }
    return withBootstrap(client, prefill, rooms);
  }

  /** Decode gets the very body prefill got: same rooms. */
  @Override
  public ObjectNode decodeRequest(
      ObjectNode client, Worker prefill, ObjectNode prefillRequest, JsonNode prefillAnswer) {
    return prefillRequest;
  }

  /** SGLang streams cannot be resumed elsewhere: the KV lives in the room of the first pair. */
  @Override
  public boolean migratable() {
    return false;
  }

  /** The body SGLang's router sends to both sides: bootstrap fields naming the prefill worker. */
  public static ObjectNode withBootstrap(ObjectNode client, Worker prefill, long[] rooms) {
    ObjectNode b = client.deepCopy();
    if (rooms.length == 1) {
      b.put("bootstrap_host", prefill.host());
      b.put("bootstrap_port", prefill.bootstrapPort());
      b.put("bootstrap_room", rooms[0]);
    } else {
      ArrayNode hosts = b.putArray("bootstrap_host");
      ArrayNode ports = b.putArray("bootstrap_port");
      ArrayNode roomList = b.putArray("bootstrap_room");
      for (long room : rooms) {
        hosts.add(prefill.host());
        ports.add(prefill.bootstrapPort());
        roomList.add(room);
      }
    }
    return b;
  }

  /**
   * {@code rid}, as SGLang's router forwards the client's: one id for a single request (and for
   * chat, whose samples SGLang numbers itself), one per prompt for a batch ({@code id-0}, {@code
   * id-1}, ...), so {@code /abort_request} can name it.
   */
  @Override
  public void tagRequestId(ObjectNode legBody, String requestId) {
    if (legBody.hasNonNull("rid")) {
      return;
    }
    int batch = legBody.has("messages") ? 1 : batchSize(legBody);
    if (batch == 1) {
      legBody.put("rid", requestId);
    } else {
      ArrayNode rids = legBody.putArray("rid");
      for (int i = 0; i < batch; i++) {
        rids.add(requestId + "-" + i);
      }
    }
  }

  @Override
  public ObjectNode abortRequest(ObjectNode legBody) {
    JsonNode rid = legBody.get("rid");
    if (rid == null || !(rid.isTextual() || rid.isArray())) {
      return null;
    }
    ObjectNode abort = legBody.objectNode();
    abort.set("rid", rid.deepCopy());
    return abort;
  }

  @Override
  public String abortPath() {
    return "/abort_request";
  }

  /**
   * How many bootstrap rooms a request needs, by SGLang's router's rules: {@code n} of a chat
   * request when above 1; the length of a completions batch ({@code prompt} a list of strings or of
   * token lists); of a native {@code /generate} batch ({@code text} a list, {@code input_ids} a
   * list of lists). One otherwise.
   */
  public static int batchSize(ObjectNode body) {
    if (body.has("messages")) {
      JsonNode n = body.path("n");
      return n.isIntegralNumber() && n.asInt() > 1 ? n.asInt() : 1;
    }
    JsonNode prompt = body.get("prompt");
    if (prompt != null && prompt.isArray() && !prompt.isEmpty() && !prompt.get(0).isNumber()) {
      return prompt.size();
    }
    JsonNode text = body.get("text");
    if (text != null && text.isArray() && !text.isEmpty()) {
      return text.size();
    }
    JsonNode ids = body.get("input_ids");
    if (ids != null && ids.isArray() && !ids.isEmpty() && ids.get(0).isArray()) {
      return ids.size();
    }
    return 1;
  }
}
