package dev.baton.engine.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.core.config.ConfigNode;

/**
 * The worker's {@code --kv-events-config}, vLLM's JSON keys and defaults:
 *
 * <pre>
 * {"enable_kv_cache_events": true, "publisher": "zmq", "endpoint": "tcp://*:5557",
 *  "replay_endpoint": "tcp://*:5558", "buffer_steps": 10000, "hwm": 100000,
 *  "max_queue_size": 100000, "topic": "kv-events"}
 * </pre>
 *
 * An endpoint with {@code *} (or an {@code ipc://}/{@code inproc://} one) is bound, any other is
 * connected to, as vLLM does.
 *
 * @param replayEndpoint ROUTER socket answering replay requests (null: none)
 * @param bufferSteps batches kept for replay
 * @param maxQueueSize events waiting to be published; beyond it new ones are dropped and counted
 */
public record KvEventsConfig(
    boolean enabled,
    String publisher,
    String endpoint,
    String replayEndpoint,
    int bufferSteps,
    int hwm,
    int maxQueueSize,
    String topic) {

  public KvEventsConfig {
    if (!publisher.equals("zmq") && !publisher.equals("null")) {
      throw new IllegalArgumentException(
          "--kv-events-config: publisher must be zmq or null, got " + publisher);
    }
    if (bufferSteps < 1 || hwm < 1 || maxQueueSize < 1) {
      throw new IllegalArgumentException(
          "--kv-events-config: buffer_steps, hwm and max_queue_size must be >= 1");
    }
  }

  /** Whether events are published at all. */
  public boolean publishes() {
    return enabled && publisher.equals("zmq");
  }

  /** Parses the JSON text; every mistake is an IllegalArgumentException naming it. */
  public static KvEventsConfig parse(String json) {
    JsonNode root;
    try {
      root = Json.parse(json);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--kv-events-config is not JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("--kv-events-config must be a JSON object");
    }
    ConfigNode n = ConfigNode.strict("kv-events-config", root);
    n.only(
        "enable_kv_cache_events",
        "publisher",
        "endpoint",
        "replay_endpoint",
        "buffer_steps",
        "hwm",
        "max_queue_size",
        "topic");
    boolean enabled = n.bool("enable_kv_cache_events", false);
    return new KvEventsConfig(
        enabled,
        n.text("publisher", enabled ? "zmq" : "null"),
        n.text("endpoint", "tcp://*:5557"),
        n.text("replay_endpoint", null),
        n.integer("buffer_steps", 10_000),
        n.integer("hwm", 100_000),
        n.integer("max_queue_size", 100_000),
        n.text("topic", ""));
  }
}
