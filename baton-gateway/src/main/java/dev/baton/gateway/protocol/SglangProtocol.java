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
      b.put("bootstrap_port", prefill.spec().bootstrapPort());
      b.put("bootstrap_room", rooms[0]);
    } else {
      ArrayNode hosts = b.putArray("bootstrap_host");
      ArrayNode ports = b.putArray("bootstrap_port");
      ArrayNode roomList = b.putArray("bootstrap_room");
      for (long room : rooms) {
        hosts.add(prefill.host());
        ports.add(prefill.spec().bootstrapPort());
        roomList.add(room);
      }
    }
    return b;
  }

  /** Batch size of a completions request: a list of prompts (strings or token lists). */
  public static int batchSize(ObjectNode body) {
    JsonNode prompt = body.get("prompt");
    if (prompt != null && prompt.isArray() && !prompt.isEmpty() && !prompt.get(0).isNumber()) {
      return prompt.size();
    }
    return 1;
  }
}
