package dev.baton.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A stand-in for an SGLang worker in disaggregation mode (SGLang cannot run here). Both sides get
 * the same body with {@code bootstrap_host}, {@code bootstrap_port} and {@code bootstrap_room}
 * injected (lists, one per prompt, for batches); rooms are integers in [0, 2^63−1]. The decode side
 * waits until the prefill side has seen the same room (the KV handshake), and times out like SGLang
 * when the prefill never comes.
 */
public final class SglangStandIn implements AutoCloseable {

  /** Rooms a prefill stand-in has received, completed when it has "sent" the KV. */
  public static final Map<Long, CompletableFuture<Void>> ROOMS = new ConcurrentHashMap<>();

  public final boolean prefill;

  /** The prefill worker's bootstrap port: both sides must be told it. */
  public final int bootstrapPort;

  public final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  public final List<ObjectNode> received = Collections.synchronizedList(new ArrayList<>());
  public volatile long kvWaitMs = 3000;
  private final StandInServer server;

  public SglangStandIn(boolean prefill, int bootstrapPort) throws IOException {
    this.prefill = prefill;
    this.bootstrapPort = bootstrapPort;
    this.server = new StandInServer(this::handle).start();
  }

  public String url() {
    return server.url();
  }

  @Override
  public void close() {
    server.close();
  }

  private void handle(StandInServer.Request req, StandInServer.Exchange ex) throws Exception {
    if (req.path().equals("/health")) {
      ex.send(200, "application/json", "{}");
      return;
    }
    if (!req.path().startsWith("/v1/")) {
      ex.send(404, "application/json", "{}");
      return;
    }
    ObjectNode body = (ObjectNode) Json.parse(req.text());
    received.add(body);
    int before = violations.size();
    JsonNode prompt = body.get("prompt");
    int batch =
        prompt != null && prompt.isArray() && !prompt.isEmpty() && !prompt.get(0).isNumber()
            ? prompt.size()
            : 1;
    List<Long> rooms = new ArrayList<>();
    JsonNode host = body.get("bootstrap_host");
    JsonNode port = body.get("bootstrap_port");
    JsonNode room = body.get("bootstrap_room");
    if (host == null || port == null || room == null) {
      violations.add("bootstrap_host/port/room missing: " + body);
    } else if (batch == 1) {
      checkOne(host, port, room, rooms);
    } else if (!host.isArray() || !port.isArray() || !room.isArray()) {
      violations.add("a batch of " + batch + " needs lists of bootstrap fields");
    } else if (host.size() != batch || port.size() != batch || room.size() != batch) {
      violations.add("bootstrap lists must have one entry per prompt (" + batch + ")");
    } else {
      for (int i = 0; i < batch; i++) {
        checkOne(host.get(i), port.get(i), room.get(i), rooms);
      }
    }
    if (violations.size() > before) {
      ex.send(400, "application/json", "{\"error\":" + Json.write(violations.get(before)) + "}");
      return;
    }
    if (prefill) {
      for (long r : rooms) {
        ROOMS.computeIfAbsent(r, k -> new CompletableFuture<>()).complete(null);
      }
    } else {
      for (long r : rooms) {
        try {
          ROOMS
              .computeIfAbsent(r, k -> new CompletableFuture<>())
              .get(kvWaitMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          ex.send(500, "application/json", "{\"error\":\"KV transfer timed out\"}");
          return;
        }
      }
    }
    int n = body.path("max_tokens").asInt(16);
    StringBuilder text = new StringBuilder();
    for (int k = 0; k < n; k++) {
      text.append(" s").append(k);
    }
    boolean chat = req.path().endsWith("chat/completions");
    if (body.path("stream").asBoolean(false)) {
      ex.startChunked(200, "text/event-stream");
      for (int k = 0; k < n; k++) {
        ObjectNode c = Json.object();
        c.put("id", "sg");
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) {
          choice.putObject("delta").put("content", " s" + k);
        } else {
          choice.put("text", " s" + k);
        }
        ex.chunk("data: " + Json.write(c) + "\n\n");
      }
      ex.chunk("data: [DONE]\n\n");
      ex.end();
      return;
    }
    ObjectNode a = Json.object();
    a.put("id", "sg");
    a.put("object", chat ? "chat.completion" : "text_completion");
    ObjectNode choice = a.putArray("choices").addObject();
    choice.put("index", 0);
    if (chat) {
      choice.putObject("message").put("role", "assistant").put("content", text.toString());
    } else {
      choice.put("text", text.toString());
    }
    choice.put("finish_reason", "length");
    ex.send(200, "application/json", Json.write(a));
  }

  private void checkOne(JsonNode host, JsonNode port, JsonNode room, List<Long> rooms) {
    if (!host.isTextual() || !host.asText().equals("127.0.0.1")) {
      violations.add("bootstrap_host must be the prefill host, got " + host);
    }
    if (!port.isIntegralNumber() || port.asInt() != bootstrapPort) {
      violations.add("bootstrap_port must be the prefill's bootstrap port, got " + port);
    }
    if (!room.isIntegralNumber()
        || room.bigIntegerValue().signum() < 0
        || room.bigIntegerValue().compareTo(BigInteger.TWO.pow(63).subtract(BigInteger.ONE)) > 0) {
      violations.add("bootstrap_room must be an integer in [0, 2^63-1], got " + room);
    } else {
      rooms.add(room.asLong());
    }
  }
}
