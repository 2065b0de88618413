package dev.baton.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for a vLLM worker with the NixlConnector (vLLM cannot run here). It checks every field
 * of the P/D request protocol as vLLM's proxy contract states it (prefill: stream=false,
 * max_tokens=1, max_completion_tokens=1, no stream_options/min_tokens, kv_transfer_params with
 * do_remote_decode=true and the remote_* fields null; decode: the exact kv_transfer_params a
 * prefill issued, extra fields included; either leg one prompt and n=1, since the params name one
 * sequence's KV) and answers as vLLM does, non-streaming or SSE. Every protocol violation is
 * recorded and answered with 400 in vLLM's error shape ({@code {"error": {"message", "type":
 * "BadRequestError", "param", "code": 400}}}), except where vLLM itself answers otherwise: the pull
 * of a decode leg ({@link NixlLeases}) reads freed blocks (200 with wrong tokens), kills the engine
 * (500 now and after, {@code /health} 503), or parks the request (answered 500 here at once, where
 * vLLM would hang).
 *
 * <p>Its "model" is deterministic: the k-th generated token is {@code " w<n>"} where n counts the
 * {@code " w"} tokens already in the prompt, so a continuation of a broken stream yields exactly
 * the tokens the first worker would have produced. Its tokenizer: {@code " w<n>"} is token {@code
 * 1000 + n}, any other character its code point; with {@code return_token_ids} a stream carries
 * {@code prompt_token_ids} (completions: in the first choice; chat: in the opening chunk) and each
 * chunk's {@code token_ids}, as vLLM does, and a prompt of token ids is read back through it.
 */
public final class VllmStandIn implements AutoCloseable {

  public enum Kind {
    PREFILL,
    DECODE,
    BOTH
  }

  /** kv_transfer_params issued by any prefill stand-in, by remote_request_id. */
  public static final Map<String, JsonNode> ISSUED = new ConcurrentHashMap<>();

  public final Kind kind;
  public final String model;
  public final String engineId = UUID.randomUUID().toString();
  public final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  public final List<ObjectNode> received = Collections.synchronizedList(new ArrayList<>());

  /** The headers of each completion request, in the order of {@link #received}. */
  public final List<java.util.Map<String, String>> receivedHeaders =
      Collections.synchronizedList(new ArrayList<>());

  public final AtomicInteger prefillLegs = new AtomicInteger();
  public final AtomicInteger decodeLegs = new AtomicInteger();
  public final AtomicInteger plainRequests = new AtomicInteger();
  public final AtomicInteger disconnectsSeen = new AtomicInteger();
  public final AtomicInteger healthChecks = new AtomicInteger();
  public volatile int chunkDelayMs;
  public volatile int cutAfterChunks = -1;

  /**
   * After this many token chunks the next stream fails as vLLM reports a failure once a stream has
   * started (the engine died, a KV load failed): an error event, {@code [DONE]}, under HTTP 200.
   */
  public volatile int errorAfterChunks = -1;

  public final AtomicInteger failNext = new AtomicInteger();
  public volatile int failStatus = 503;
  public volatile boolean healthy = true;

  /**
   * The vLLM version it claims on {@code /version}; it decides how the P/D legs pair (vLLM PR
   * 29665/27987): from 0.12 a prefill answer names its suffixed internal id in {@code
   * remote_request_id} and a decode leg must carry it; before 0.12 the answer names none, both legs
   * derive the id from {@code X-Request-Id} ({@code cmpl-<id>-0}, {@code chatcmpl-<id>}) and the
   * decode worker notifies its own.
   */
  public volatile String version = "0.12.0";

  /** Whether {@code return_token_ids} is honoured (false: a vLLM from before the field). */
  public volatile boolean emitsTokenIds = true;

  public volatile double kvUsage;

  /** vLLM's {@code --block-size}: a prefill holds cdiv(prompt tokens, block size) blocks. */
  public volatile int blockSize = 16;

  /**
   * How long a prefill holds its blocks for the decode's pull: vLLM's {@code kv_lease_duration} (30
   * s; older versions {@code VLLM_NIXL_ABORT_REQUEST_TIMEOUT}, 480 s).
   */
  public volatile long leaseMs = 30_000;

  /**
   * Whether a prefill stopped by its first token (EOS or a stop string) still hands out its KV:
   * vLLM's current {@code request_finished} does for {@code FINISHED_STOPPED}; the 0.12-era one
   * only for {@code FINISHED_LENGTH_CAPPED} (answering {@code kv_transfer_params: null}).
   */
  public volatile boolean kvOnStop;

  /** Rewrites the params a prefill answers with (a worker of another make, or a broken one). */
  public volatile java.util.function.UnaryOperator<ObjectNode> answerParams = p -> p;

  /** The internal ids of the requests this prefill worker answered with params, in order. */
  public final List<String> issuedIds = Collections.synchronizedList(new ArrayList<>());

  /** Set when a request killed the engine core: everything fails from then on, as in vLLM. */
  public volatile boolean engineDead;

  private final AtomicInteger nextBlock = new AtomicInteger();
  public volatile int running;
  private final StandInServer server;

  public VllmStandIn(Kind kind, String model) throws IOException {
    this.kind = kind;
    this.model = model;
    this.server = new StandInServer(this::handle).start();
  }

  public String url() {
    return server.url();
  }

  /** Kills it: connections reset, port refuses. */
  public void kill() {
    server.stop();
  }

  /** Brings it back on the same port. */
  public void restart() throws IOException {
    server.start();
  }

  @Override
  public void close() {
    server.close();
  }

  /** Whether a prefill's blocks for this request are still held (neither pulled nor expired). */
  public static boolean holds(String requestId) {
    return NixlLeases.held(requestId);
  }

  public int requests() {
    return prefillLegs.get() + decodeLegs.get() + plainRequests.get();
  }

  private void handle(StandInServer.Request req, StandInServer.Exchange ex) throws Exception {
    switch (req.path()) {
      case "/health" -> {
        healthChecks.incrementAndGet();
        ex.send(healthy && !engineDead ? 200 : 503, "application/json", "{}");
      }
      case "/metrics" ->
          ex.send(
              200,
              "text/plain; version=0.0.4",
              "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                  + "# TYPE vllm:num_requests_running gauge\n"
                  + "vllm:num_requests_running{engine=\"0\",model_name=\""
                  + model
                  + "\"} "
                  + running
                  + "\nvllm:num_requests_waiting{engine=\"0\",model_name=\""
                  + model
                  + "\"} 0.0\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\""
                  + model
                  + "\"} "
                  + kvUsage
                  + "\n");
      case "/version" ->
          ex.send(200, "application/json", "{\"version\":" + Json.write(version) + "}");
      case "/v1/models" ->
          ex.send(
              200,
              "application/json",
              "{\"object\":\"list\",\"data\":[{\"id\":\""
                  + model
                  + "\",\"object\":\"model\",\"owned_by\":\"vllm\"}]}");
      case "/v1/completions", "/v1/chat/completions" ->
          completion(req, ex, req.path().endsWith("chat/completions"));
      default -> ex.send(404, "application/json", "{\"error\":\"not found\"}");
    }
  }

  private void violation(String v) {
    violations.add(v);
  }

  private void completion(StandInServer.Request req, StandInServer.Exchange ex, boolean chat)
      throws Exception {
    ObjectNode body = (ObjectNode) Json.parse(req.text());
    received.add(body);
    receivedHeaders.add(req.headers());
    if (engineDead) {
      sendError(
          ex, 500, "EngineCore encountered an issue. See stack trace (above) for the root cause.");
      return;
    }
    if (failNext.get() > 0 && failNext.getAndDecrement() > 0) {
      ex.send(failStatus, "application/json", "{\"error\":{\"message\":\"overloaded\"}}");
      return;
    }
    int before = violations.size();
    JsonNode kv = body.get("kv_transfer_params");
    boolean prefillLeg = kv != null && kv.path("do_remote_decode").asBoolean(false);
    boolean decodeLeg = kv != null && kv.path("do_remote_prefill").asBoolean(false);
    String requestId = internalRequestId(req, chat);
    String prompt = promptText(body, chat);
    NixlLeases.Pull pull = NixlLeases.Pull.READ;
    if (prefillLeg) {
      prefillLegs.incrementAndGet();
      checkPrefillLeg(body, kv);
      checkOneSequence(body, chat);
    } else if (decodeLeg) {
      decodeLegs.incrementAndGet();
      String notified = notifiedRequestId(kv, requestId);
      if (kind == Kind.PREFILL) {
        violation("decode leg sent to a prefill worker");
      }
      checkOneSequence(body, chat);
      if (violations.size() == before) {
        pull = NixlLeases.pull(kv, notified, prompt, blockSize, namesRemoteRequestId(), violations);
        if (pull == NixlLeases.Pull.READ) {
          checkUntouched(kv, notified);
        }
      }
    } else {
      plainRequests.incrementAndGet();
      if (kind != Kind.BOTH && kind != Kind.DECODE) {
        // A kv_producer serves plain requests too; the gateway should never send them here.
        violation("plain request sent to a prefill-only worker");
      }
    }
    String why = String.join("; ", violations.subList(before, violations.size()));
    switch (pull) {
      case ENGINE_DEAD -> {
        engineDead = true;
        sendError(
            ex,
            500,
            "EngineCore encountered an issue. See stack trace (above) for the root cause.");
        return;
      }
      case PARKED -> {
        sendError(ex, 500, "request parked waiting for KV that is never read: " + why);
        return;
      }
      case READ, STALE -> {
        if (pull == NixlLeases.Pull.READ && !why.isEmpty()) {
          sendError(ex, 400, why);
          return;
        }
      }
    }
    // Blocks that were freed hold another request's KV now: the output goes wrong.
    int offset = countWords(prompt) + (pull == NixlLeases.Pull.STALE ? 1000 : 0);
    int maxTokens = body.has("max_tokens") ? body.get("max_tokens").asInt() : 16;
    if (body.has("max_completion_tokens")) {
      maxTokens = Math.min(maxTokens, body.get("max_completion_tokens").asInt());
    }
    String id = requestId;
    int stopAt = stopIndex(body, offset, maxTokens);
    String stopString = stopAt < 0 ? null : stopHit(body, offset + stopAt);
    if (prefillLeg && stopAt == 0 && !kvOnStop) {
      // vLLM's NixlConnector.request_finished hands out KV only for a request that ended by
      // length (FINISHED_LENGTH_CAPPED); one stopped by its first token frees the blocks at once
      // and the answer carries kv_transfer_params: null.
      ObjectNode answer = whole(id, chat, "", 0, prompt, stopString);
      answer.putNull("kv_transfer_params");
      ex.send(200, "application/json", Json.write(answer));
      return;
    }
    if (prefillLeg) {
      ObjectNode params = answerParams.apply(prefillAnswerParams(id, prompt));
      ISSUED.put(id, params);
      issuedIds.add(id);
      ObjectNode answer =
          stopAt == 0
              ? whole(id, chat, "", 0, prompt, stopString)
              : whole(id, chat, " w" + offset, 1, prompt, null);
      answer.set("kv_transfer_params", params);
      ex.send(200, "application/json", Json.write(answer));
      return;
    }
    if (stopAt >= 0) {
      maxTokens = stopAt; // the tokens before the stop string; the stop string is not output
    }
    if (body.path("stream").asBoolean(false)) {
      boolean ids = emitsTokenIds && body.path("return_token_ids").asBoolean(false);
      stream(
          ex,
          id,
          chat,
          offset,
          maxTokens,
          body.path("stream_options").path("include_usage"),
          ids ? tokenize(prompt) : null,
          stopString);
    } else {
      StringBuilder text = new StringBuilder();
      for (int k = 0; k < maxTokens; k++) {
        text.append(" w").append(offset + k);
      }
      ObjectNode answer = whole(id, chat, text.toString(), maxTokens, prompt, stopString);
      answer.putNull("kv_transfer_params");
      ex.send(200, "application/json", Json.write(answer));
    }
  }

  private void checkPrefillLeg(ObjectNode body, JsonNode kv) {
    if (kind == Kind.DECODE) {
      violation("prefill leg sent to a decode worker");
    }
    if (!body.path("stream").isBoolean() || body.get("stream").asBoolean()) {
      violation("prefill leg must have stream=false, got " + body.get("stream"));
    }
    if (body.path("max_tokens").asInt(-1) != 1) {
      violation("prefill leg must have max_tokens=1, got " + body.get("max_tokens"));
    }
    if (body.has("max_completion_tokens") && body.path("max_completion_tokens").asInt(-1) != 1) {
      violation("prefill leg's max_completion_tokens, where present, must be 1");
    }
    if (body.has("stream_options")) {
      violation("prefill leg must not carry stream_options");
    }
    if (body.has("min_tokens") || body.has("min_completion_tokens")) {
      violation("prefill leg must not carry min_tokens or min_completion_tokens");
    }
    ObjectNode expected = Json.object();
    expected.put("do_remote_decode", true);
    expected.put("do_remote_prefill", false);
    expected.putNull("remote_engine_id");
    expected.putNull("remote_block_ids");
    expected.putNull("remote_host");
    expected.putNull("remote_port");
    if (!expected.equals(kv)) {
      violation("prefill kv_transfer_params must be " + expected + ", got " + kv);
    }
  }

  /**
   * kv_transfer_params describe one sequence's KV: vLLM hands the same params to every prompt of a
   * batch and every sample of {@code n > 1} (each would pull the first prompt's blocks), so a P/D
   * leg must carry exactly one prompt and one sample.
   */
  private void checkOneSequence(ObjectNode body, boolean chat) {
    if (body.path("n").asInt(1) != 1) {
      violation("a P/D leg must have n=1, got " + body.get("n"));
    }
    JsonNode prompt = body.get("prompt");
    if (!chat && prompt != null && prompt.isArray() && !prompt.isEmpty()) {
      boolean tokenIds = true;
      for (JsonNode item : prompt) {
        tokenIds &= item.isIntegralNumber();
      }
      if (!tokenIds) {
        violation("a P/D leg must carry one prompt, got a batch of " + prompt.size());
      }
    }
  }

  /** Whether this version's prefill answers name {@code remote_request_id} (0.12 and later). */
  private boolean namesRemoteRequestId() {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(version);
    return !m.find() || Integer.parseInt(m.group(1)) > 0 || Integer.parseInt(m.group(2)) >= 12;
  }

  /**
   * The id vLLM gives the request internally: from {@code X-Request-Id} (or a random one), {@code
   * cmpl-<id>-0} for a one-prompt completion, {@code chatcmpl-<id>} for a chat; from 0.12 with a
   * random suffix (so only {@code remote_request_id} can name it to another worker).
   */
  private String internalRequestId(StandInServer.Request req, boolean chat) {
    String base = req.headers().getOrDefault("x-request-id", UUID.randomUUID().toString());
    String id = chat ? "chatcmpl-" + base : "cmpl-" + base + "-0";
    if (namesRemoteRequestId()) {
      id += "-" + UUID.randomUUID().toString().substring(0, 8);
    }
    return id;
  }

  /**
   * The params a prefill answer carries (the fields of vLLM's {@code request_finished}) for a
   * request whose blocks it now holds: cdiv(prompt tokens, block size) of them, one list per
   * KV-cache group from 0.12 (a flat list before), plus the fields current vLLM adds.
   */
  private ObjectNode prefillAnswerParams(String id, String prompt) {
    int tokens = tokenize(prompt).size();
    int blockCount = NixlLeases.blocks(tokens, blockSize);
    NixlLeases.hold(id, prompt, blockCount, leaseMs);
    boolean current = namesRemoteRequestId();
    ObjectNode params = Json.object();
    params.put("do_remote_prefill", true);
    params.put("do_remote_decode", false);
    var ids = params.putArray("remote_block_ids");
    var group = current ? ids.addArray() : ids;
    int first = nextBlock.getAndAdd(blockCount);
    for (int i = 0; i < blockCount; i++) {
      group.add(first + i);
    }
    params.put("remote_engine_id", engineId);
    if (current) {
      params.put("remote_request_id", id);
    }
    params.put("remote_host", "127.0.0.1");
    params.put("remote_port", 5600);
    params.put("tp_size", 1);
    if (current) {
      params.put("dcp_size", 1);
      params.put("pp_size", 1);
      params.put("remote_num_tokens", tokens);
      params.putNull("remote_blocks_expiry_time");
      params.put("transfer_mode", "pull");
    }
    // Not a vLLM field: what Baton's KV connector adds; the gateway must pass it through.
    params.put("lease_token", UUID.randomUUID().toString());
    return params;
  }

  /**
   * The id this decode worker notifies the prefill worker with once it pulled the KV: from 0.12 the
   * answer's {@code remote_request_id} (read unconditionally; null when absent), before, its own
   * internal id.
   */
  private String notifiedRequestId(JsonNode kv, String ownRequestId) {
    if (!namesRemoteRequestId()) {
      return ownRequestId;
    }
    return kv.path("remote_request_id").isTextual() ? kv.get("remote_request_id").asText() : null;
  }

  /**
   * A decode leg carries what the prefill answered, untouched (a gateway may only add {@code
   * remote_request_id} where the answer named none, and rewrite a loopback {@code remote_host}).
   */
  private void checkUntouched(JsonNode kv, String notified) {
    JsonNode issued = ISSUED.get(notified);
    ObjectNode expected = issued.deepCopy();
    if (!issued.has("remote_request_id") && kv.has("remote_request_id")) {
      expected.set("remote_request_id", kv.get("remote_request_id")); // a gateway may add it
    }
    if (!expected.equals(kv)) {
      violation("decode kv_transfer_params differ from the prefill's: " + kv + " vs " + issued);
    }
  }

  /** An error answer in vLLM's shape. */
  private static void sendError(StandInServer.Exchange ex, int status, String message)
      throws IOException {
    ObjectNode error = Json.object();
    ObjectNode e = error.putObject("error");
    e.put("message", message);
    e.put("type", status == 400 ? "BadRequestError" : "InternalServerError");
    e.putNull("param");
    e.put("code", status);
    ex.send(status, "application/json", Json.write(error));
  }

  /**
   * Index of the first generated token that contains one of the request's {@code stop} strings
   * (vLLM stops there and leaves the stop string out), or -1.
   */
  private static int stopIndex(ObjectNode body, int offset, int maxTokens) {
    for (int k = 0; k < maxTokens; k++) {
      if (stopHit(body, offset + k) != null) {
        return k;
      }
    }
    return -1;
  }

  private static String stopHit(ObjectNode body, int word) {
    JsonNode stop = body.get("stop");
    List<String> stops = new ArrayList<>();
    if (stop != null && stop.isTextual()) {
      stops.add(stop.asText());
    } else if (stop != null && stop.isArray()) {
      stop.forEach(x -> stops.add(x.asText()));
    }
    String token = " w" + word;
    for (String st : stops) {
      if (!st.isEmpty() && token.contains(st)) {
        return st;
      }
    }
    return null;
  }

  /** A whole answer; {@code stop} is the stop string that ended it (null: it ended by length). */
  private ObjectNode whole(
      String id, boolean chat, String text, int tokens, String prompt, String stop) {
    ObjectNode a = Json.object();
    a.put("id", id);
    a.put("object", chat ? "chat.completion" : "text_completion");
    a.put("created", System.currentTimeMillis() / 1000);
    a.put("model", model);
    ObjectNode choice = a.putArray("choices").addObject();
    choice.put("index", 0);
    if (chat) {
      ObjectNode m = choice.putObject("message");
      m.put("role", "assistant");
      m.put("content", text);
    } else {
      choice.put("text", text);
      choice.putNull("logprobs");
    }
    choice.put("finish_reason", stop == null ? "length" : "stop");
    if (stop == null) {
      choice.putNull("stop_reason");
    } else {
      choice.put("stop_reason", stop);
    }
    ObjectNode usage = a.putObject("usage");
    usage.put("prompt_tokens", prompt.length() / 4);
    usage.put("completion_tokens", tokens);
    usage.put("total_tokens", prompt.length() / 4 + tokens);
    return a;
  }

  private void stream(
      StandInServer.Exchange ex,
      String id,
      boolean chat,
      int offset,
      int maxTokens,
      JsonNode includeUsage,
      List<Integer> promptIds,
      String stop)
      throws Exception {
    ex.startChunked(200, "text/event-stream");
    long created = System.currentTimeMillis() / 1000;
    if (chat) {
      ObjectNode first = chunk(id, chat, created);
      ObjectNode delta = ((ObjectNode) first.path("choices").get(0)).putObject("delta");
      delta.put("role", "assistant");
      delta.put("content", "");
      if (promptIds != null) {
        promptIds.forEach(first.putArray("prompt_token_ids")::add);
      }
      ex.chunk("data: " + Json.write(first) + "\n\n");
    }
    int cut = cutAfterChunks;
    int error = errorAfterChunks;
    for (int k = 0; k < maxTokens; k++) {
      if (cut >= 0 && k == cut) {
        cutAfterChunks = -1;
        ex.cut();
        return;
      }
      if (error >= 0 && k == error) {
        errorAfterChunks = -1;
        ex.chunk(
            "data: {\"error\":{\"message\":\"EngineCore encountered an issue.\","
                + "\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}\n\n");
        ex.chunk("data: [DONE]\n\n");
        ex.end();
        return;
      }
      if (chunkDelayMs > 0) {
        Thread.sleep(chunkDelayMs);
        if (ex.peerClosed()) {
          disconnectsSeen.incrementAndGet();
          return;
        }
      }
      ObjectNode c = chunk(id, chat, created);
      ObjectNode choice = (ObjectNode) c.path("choices").get(0);
      String token = " w" + (offset + k);
      if (chat) {
        choice.putObject("delta").put("content", token);
      } else {
        choice.put("text", token);
      }
      if (k == maxTokens - 1 && stop == null) {
        choice.put("finish_reason", "length");
      }
      if (promptIds != null) {
        choice.putArray("token_ids").add(1000 + offset + k);
        if (!chat && k == 0) {
          promptIds.forEach(choice.putArray("prompt_token_ids")::add);
        }
      }
      ex.chunk("data: " + Json.write(c) + "\n\n");
    }
    if (stop != null) {
      ObjectNode c = chunk(id, chat, created);
      ObjectNode choice = (ObjectNode) c.path("choices").get(0);
      if (chat) {
        choice.putObject("delta");
      }
      choice.put("finish_reason", "stop").put("stop_reason", stop);
      ex.chunk("data: " + Json.write(c) + "\n\n");
    }
    if (includeUsage.asBoolean(false)) {
      ObjectNode u = chunk(id, chat, created);
      u.putArray("choices");
      u.putObject("usage").put("completion_tokens", maxTokens);
      ex.chunk("data: " + Json.write(u) + "\n\n");
    }
    ex.chunk("data: [DONE]\n\n");
    ex.end();
  }

  private ObjectNode chunk(String id, boolean chat, long created) {
    ObjectNode c = Json.object();
    c.put("id", id);
    c.put("object", chat ? "chat.completion.chunk" : "text_completion");
    c.put("created", created);
    c.put("model", model);
    ObjectNode choice = c.putArray("choices").addObject();
    choice.put("index", 0);
    if (!chat) {
      choice.put("text", "");
      choice.putNull("logprobs");
    }
    choice.putNull("finish_reason");
    return c;
  }

  public static String promptText(ObjectNode body, boolean chat) {
    if (!chat) {
      return text(body.get("prompt"));
    }
    JsonNode messages = body.path("messages");
    if (body.path("continue_final_message").asBoolean(false) && !messages.isEmpty()) {
      return messages.get(messages.size() - 1).path("content").asText();
    }
    StringBuilder sb = new StringBuilder();
    for (JsonNode m : messages) {
      JsonNode content = m.path("content");
      if (content.isArray()) {
        content.forEach(part -> sb.append(part.path("text").asText()));
      } else {
        sb.append(content.asText());
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  public static int countWords(String text) {
    int n = 0;
    for (int i = text.indexOf(" w"); i >= 0; i = text.indexOf(" w", i + 2)) {
      if (i + 2 < text.length() && Character.isDigit(text.charAt(i + 2))) {
        n++;
      }
    }
    return n;
  }

  /** The stand-in's tokenizer: {@code " w<n>"} is 1000 + n, any other character its code. */
  static List<Integer> tokenize(String text) {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < text.length(); ) {
      int end = i + 2;
      while (text.startsWith(" w", i)
          && end < text.length()
          && Character.isDigit(text.charAt(end))) {
        end++;
      }
      if (end > i + 2) {
        ids.add(1000 + Integer.parseInt(text.substring(i + 2, end)));
        i = end;
      } else {
        ids.add((int) text.charAt(i));
        i++;
      }
    }
    return ids;
  }

  /** The text of a completions prompt (a string, or a list whose items are joined). */
  private static String text(JsonNode prompt) {
    if (prompt == null || prompt.isNull()) {
      return "";
    }
    if (prompt.isArray() && !prompt.isEmpty() && prompt.get(0).isIntegralNumber()) {
      StringBuilder sb = new StringBuilder(); // token ids, read back through the tokenizer
      prompt.forEach(
          t -> sb.append(t.asInt() >= 1000 ? " w" + (t.asInt() - 1000) : "" + (char) t.asInt()));
      return sb.toString();
    }
    if (prompt.isArray()) {
      StringBuilder sb = new StringBuilder();
      prompt.forEach(p -> sb.append(p.asText()).append('\n'));
      return sb.toString();
    }
    return prompt.asText();
  }
}
