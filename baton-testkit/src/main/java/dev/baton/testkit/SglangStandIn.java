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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for an SGLang worker in disaggregation mode (SGLang cannot run here), following
 * SGLang's HTTP server and the fields its router sends.
 *
 * <p>Inference ({@code /v1/completions}, {@code /v1/chat/completions}, native {@code /generate}):
 * both sides get the same body with {@code bootstrap_host}, {@code bootstrap_port} and {@code
 * bootstrap_room} (lists, one per item, for a batch: a list {@code prompt}, a list {@code text}, a
 * list of {@code input_ids} lists, or chat {@code n > 1}); rooms are integers in [0, 2^63−1], the
 * port is the prefill worker's bootstrap port. The decode side waits until the prefill side has
 * seen the same room (the KV handshake) and times out like SGLang when it never comes. Each
 * request's {@code rid} is recorded.
 *
 * <p>Server endpoints: {@code /get_server_info} and {@code /server_info} (server arguments,
 * including {@code disaggregation_mode} and {@code disaggregation_bootstrap_port}), {@code
 * /get_model_info} and {@code /model_info}, {@code /flush_cache} (GET or POST; 400 while requests
 * run, as SGLang refuses then), {@code /health}, {@code /health_generate}, {@code /abort_request}
 * ({@code {"rid": ...}}), {@code /v1/models} and {@code /metrics} with SGLang's {@code sglang:*}
 * names.
 */
public final class SglangStandIn implements AutoCloseable {

  /** Rooms a prefill stand-in has received, completed when it has "sent" the KV. */
  public static final Map<Long, CompletableFuture<Void>> ROOMS = new ConcurrentHashMap<>();

  public final boolean prefill;

  /** The prefill worker's bootstrap port: told in /get_server_info, checked on every request. */
  public final int bootstrapPort;

  public final String model;
  public final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  public final List<ObjectNode> received = Collections.synchronizedList(new ArrayList<>());

  /** The {@code rid} of each inference request, in the order of {@link #received}. */
  public final List<JsonNode> rids = Collections.synchronizedList(new ArrayList<>());

  /** The {@code rid} named by each {@code /abort_request}. */
  public final List<JsonNode> aborted = Collections.synchronizedList(new ArrayList<>());

  public final AtomicInteger flushes = new AtomicInteger();
  public final AtomicInteger healthGenerates = new AtomicInteger();
  public final AtomicInteger serverInfos = new AtomicInteger();
  public volatile long kvWaitMs = 3000;

  /** A prefill worker holds its answer this long after taking the room (a long prompt). */
  public volatile long answerDelayMs;

  /** Delay between streamed chunks. */
  public volatile long chunkDelayMs;

  /**
   * Whether {@code /metrics} is served: SGLang serves it only with {@code --enable-metrics} (off by
   * default; then 404 and {@code /get_load} is the load report).
   */
  public volatile boolean metricsEnabled = true;

  /** Requests waiting in the scheduler besides the gateway's (other clients), for load reports. */
  public volatile int queued;

  /** The next this many rooms a prefill worker takes fail their KV transfer. */
  public final AtomicInteger failTransfers = new AtomicInteger();

  private final AtomicInteger running = new AtomicInteger();
  private final StandInServer server;

  public SglangStandIn(boolean prefill, int bootstrapPort) throws IOException {
    this(prefill, bootstrapPort, "m");
  }

  public SglangStandIn(boolean prefill, int bootstrapPort, String model) throws IOException {
    this.prefill = prefill;
    this.bootstrapPort = bootstrapPort;
    this.model = model;
    this.server = new StandInServer(this::handle).start();
  }

  public String url() {
    return server.url();
  }

  /** Inference requests running now. */
  public int inFlight() {
    return running.get();
  }

  @Override
  public void close() {
    server.close();
  }

  private void handle(StandInServer.Request req, StandInServer.Exchange ex) throws Exception {
    switch (req.path()) {
      case "/health" -> ex.send(200, "application/json", "{}");
      case "/health_generate" -> {
        healthGenerates.incrementAndGet();
        ex.send(200, "text/plain", "");
      }
      case "/get_server_info", "/server_info" -> {
        serverInfos.incrementAndGet();
        ex.send(200, "application/json", Json.write(serverInfo()));
      }
      case "/get_model_info", "/model_info" -> {
        ObjectNode info = Json.object();
        info.put("model_path", model);
        info.put("tokenizer_path", model);
        info.put("is_generation", true);
        info.putNull("preferred_sampling_params");
        info.put("weight_version", "default");
        ex.send(200, "application/json", Json.write(info));
      }
      case "/flush_cache" -> {
        flushes.incrementAndGet();
        ex.send(
            running.get() == 0 ? 200 : 400,
            "text/plain",
            "Cache flushed.\nPlease check backend logs for more details. (When there are running"
                + " or waiting requests, the operation will not be performed.)\n");
      }
      case "/abort_request" -> {
        aborted.add(Json.parse(req.text()).path("rid"));
        ex.send(200, "text/plain", "");
      }
      case "/v1/models" ->
          ex.send(
              200,
              "application/json",
              "{\"object\":\"list\",\"data\":[{\"id\":\""
                  + model
                  + "\",\"object\":\"model\",\"owned_by\":\"sglang\"}]}");
      case "/get_load" -> ex.send(200, "application/json", Json.write(load()));
      case "/metrics" -> {
        if (!metricsEnabled) {
          ex.send(404, "application/json", "{\"detail\":\"Not Found\"}");
          return;
        }
        ex.send(
            200,
            "text/plain; version=0.0.4",
            "# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs{model_name=\""
                + model
                + "\"} "
                + running.get()
                + "\n# TYPE sglang:num_queue_reqs gauge\nsglang:num_queue_reqs{model_name=\""
                + model
                + "\"} "
                + queued
                + ".0\n# TYPE sglang:token_usage gauge\nsglang:token_usage{model_name=\""
                + model
                + "\"} 0.25\n");
      }
      case "/v1/completions", "/v1/chat/completions", "/generate" -> {
        running.incrementAndGet();
        try {
          inference(req, ex);
        } finally {
          running.decrementAndGet();
        }
      }
      default -> ex.send(404, "application/json", "{\"detail\":\"Not Found\"}");
    }
  }

  private ObjectNode serverInfo() {
    ObjectNode info = Json.object();
    info.put("model_path", model);
    info.put("tp_size", 1);
    info.put("disaggregation_mode", prefill ? "prefill" : "decode");
    info.put("disaggregation_transfer_backend", "mooncake");
    info.put("disaggregation_bootstrap_port", bootstrapPort);
    info.putArray("internal_states").addObject().put("last_gen_throughput", 0.0);
    info.put("version", "stand-in");
    return info;
  }

  /** Items in a request, by the rules of SGLang's router (see the class comment). */
  static int batchSize(ObjectNode body) {
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

  private void inference(StandInServer.Request req, StandInServer.Exchange ex) throws Exception {
    ObjectNode body = (ObjectNode) Json.parse(req.text());
    received.add(body);
    rids.add(body.path("rid"));
    int before = violations.size();
    int batch = batchSize(body);
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
      violations.add("bootstrap lists must have one entry per item (" + batch + ")");
    } else {
      for (int i = 0; i < batch; i++) {
        checkOne(host.get(i), port.get(i), room.get(i), rooms);
      }
    }
    if (violations.size() > before) {
      ex.send(
          400, "application/json", Json.write(error(violations.get(before), "Bad Request", 400)));
      return;
    }
    boolean generate = req.path().equals("/generate");
    boolean stream = body.path("stream").asBoolean(false);
    if (prefill) {
      boolean fail = failTransfers.get() > 0 && failTransfers.getAndDecrement() > 0;
      for (long r : rooms) {
        CompletableFuture<Void> taken = ROOMS.computeIfAbsent(r, k -> new CompletableFuture<>());
        if (fail) {
          taken.completeExceptionally(new IllegalStateException("KV transfer failed"));
        } else {
          taken.complete(null);
        }
      }
      if (fail) {
        abort(ex, body, generate, stream, "KV transfer to the decode worker failed");
        return;
      }
      // Holds the answer (a long prompt) unless /abort_request names this request.
      long until = System.nanoTime() + answerDelayMs * 1_000_000;
      while (System.nanoTime() < until && !aborted.contains(body.path("rid"))) {
        Thread.sleep(5);
      }
    } else {
      for (long r : rooms) {
        try {
          ROOMS
              .computeIfAbsent(r, k -> new CompletableFuture<>())
              .get(kvWaitMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          abort(ex, body, generate, stream, "KV transfer timed out (bootstrap room " + r + ")");
          return;
        } catch (java.util.concurrent.ExecutionException e) {
          abort(ex, body, generate, stream, "KV transfer failed (bootstrap room " + r + ")");
          return;
        }
      }
    }
    int n =
        generate
            ? body.path("sampling_params").path("max_new_tokens").asInt(16)
            : body.path("max_tokens").asInt(16);
    boolean chat = req.path().endsWith("chat/completions");
    if (stream) {
      ex.startChunked(200, "text/event-stream");
      StringBuilder sofar = new StringBuilder();
      for (int k = 0; k < n; k++) {
        if (chunkDelayMs > 0) {
          Thread.sleep(chunkDelayMs);
          if (ex.peerClosed()) {
            return;
          }
        }
        sofar.append(" s").append(k);
        ObjectNode c = Json.object();
        if (generate) {
          // SGLang's native stream: the text so far, not a delta.
          c.put("text", sofar.toString());
          c.set("meta_info", metaInfo(body, k + 1, k == n - 1));
        } else {
          c.put("id", "sg");
          ObjectNode choice = c.putArray("choices").addObject();
          choice.put("index", 0);
          if (chat) {
            choice.putObject("delta").put("content", " s" + k);
          } else {
            choice.put("text", " s" + k);
          }
        }
        ex.chunk("data: " + Json.write(c) + "\n\n");
      }
      ex.chunk("data: [DONE]\n\n");
      ex.end();
      return;
    }
    StringBuilder text = new StringBuilder();
    for (int k = 0; k < n; k++) {
      text.append(" s").append(k);
    }
    ObjectNode a = Json.object();
    if (generate) {
      a.put("text", text.toString());
      a.set("meta_info", metaInfo(body, n, true));
      ex.send(200, "application/json", Json.write(a));
      return;
    }
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

  /**
   * A request SGLang's scheduler aborted with a server error (its KV transfer failed or timed out:
   * {@code prepare_abort(..., status_code=500)}): a stream has already answered 200, so the error
   * comes as an event (the OpenAI routes' {@code {"error": {...}}}, native {@code /generate}'s
   * chunk with {@code finish_reason: {"type": "abort", "status_code": 500}}) and then {@code
   * [DONE]}; otherwise HTTP 500 with SGLang's error body.
   */
  private static void abort(
      StandInServer.Exchange ex, ObjectNode body, boolean generate, boolean stream, String message)
      throws IOException {
    if (!stream) {
      ex.send(500, "application/json", Json.write(error(message, "500", 500)));
      return;
    }
    ObjectNode event = Json.object();
    if (generate) {
      event.put("text", "");
      ObjectNode meta = metaInfo(body, 0, false);
      meta.putObject("finish_reason")
          .put("type", "abort")
          .put("message", message)
          .put("status_code", 500);
      event.set("meta_info", meta);
    } else {
      event.set("error", error(message, "INTERNAL_SERVER_ERROR", 500));
    }
    ex.startChunked(200, "text/event-stream");
    ex.chunk("data: " + Json.write(event) + "\n\n");
    ex.chunk("data: [DONE]\n\n");
    ex.end();
  }

  /** SGLang's {@code ErrorResponse}. */
  private static ObjectNode error(String message, String type, int code) {
    ObjectNode e = Json.object();
    e.put("object", "error");
    e.put("message", message);
    e.put("type", type);
    e.putNull("param");
    e.put("code", code);
    return e;
  }

  /** {@code /get_load}: one entry per data-parallel rank (one here), as SGLang's scheduler. */
  private com.fasterxml.jackson.databind.node.ArrayNode load() {
    var ranks = Json.MAPPER.createArrayNode();
    ObjectNode rank = ranks.addObject();
    rank.put("dp_rank", 0);
    rank.put("num_reqs", running.get() + queued);
    rank.put("num_waiting_reqs", queued);
    rank.put("num_tokens", 0);
    return ranks;
  }

  private static ObjectNode metaInfo(ObjectNode body, int tokens, boolean last) {
    ObjectNode meta = Json.object();
    meta.put("id", body.path("rid").asText("sg"));
    if (last) {
      meta.putObject("finish_reason").put("type", "length").put("length", tokens);
    } else {
      meta.putNull("finish_reason");
    }
    meta.put("prompt_tokens", 4);
    meta.put("completion_tokens", tokens);
    meta.put("cached_tokens", 0);
    return meta;
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
