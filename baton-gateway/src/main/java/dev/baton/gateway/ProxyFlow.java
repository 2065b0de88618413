package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.KvTransferParams;
import dev.baton.core.OpenAiError;
import dev.baton.gateway.GatewayConfig.Mode;
import dev.baton.gateway.PoolRuntime.Selection;
import dev.baton.gateway.policy.PromptKeys;
import dev.baton.gateway.policy.RouteRequest;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One client request through the gateway: choose workers, run the pool's protocol (vLLM
 * NixlConnector two-step, SGLang bootstrap, or plain), relay the answer, and retry or migrate when
 * a worker fails. A failure before the client has seen a byte is retried on other workers; a decode
 * stream that breaks later is continued on another worker (migration).
 */
final class ProxyFlow {

  /** A leg failed before anything reached the client: the request may be tried again. */
  static final class LegFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Worker worker;
    final String leg;

    LegFailure(Worker worker, String leg, String message) {
      super(leg + " worker " + worker.url() + ": " + message, null, false, false);
      this.worker = worker;
      this.leg = leg;
    }
  }

  /** The client went away: stop everything, answer nothing. */
  static final class ClientGone extends Exception {
    private static final long serialVersionUID = 1L;

    ClientGone(Throwable cause) {
      super("client disconnected", cause, false, false);
    }
  }

  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

  private final Gateway gateway;
  private final GatewayConfig config;
  private final PoolRuntime pool;
  private final ObjectNode body;
  private final byte[] rawBody;
  private final String path;
  private final boolean chat;
  private final boolean stream;
  private final ServerResponse res;
  private final RouteRequest route;
  private final long startNanos;
  private int status = 200;

  ProxyFlow(
      Gateway gateway,
      GatewayConfig config,
      PoolRuntime pool,
      ObjectNode body,
      byte[] rawBody,
      String path,
      String sessionId,
      ServerResponse res,
      PromptKeys keys,
      long startNanos) {
    this.gateway = gateway;
    this.config = config;
    this.pool = pool;
    this.body = body;
    this.rawBody = rawBody;
    this.path = path;
    this.chat = path.endsWith("chat/completions");
    this.stream = body.path("stream").asBoolean(false);
    this.res = res;
    this.startNanos = startNanos;
    this.route =
        new RouteRequest(
            sessionId, pool.hashesPrompts() ? () -> keys.of(body, chat) : null, pool.index());
  }

  /** Runs the request to the end and returns the HTTP status the client got. */
  int run() {
    Set<Worker> excluded = new HashSet<>();
    long backoff = config.retry().backoffMs();
    LegFailure last = null;
    try {
      for (int attempt = 1; attempt <= config.retry().maxAttempts(); attempt++) {
        Selection s = pool.select(route, excluded);
        if (s == null && !excluded.isEmpty()) {
          // Every worker failed this request once: try them again (after the backoff) rather
          // than give up while attempts remain; the breakers keep really dead ones out.
          excluded.clear();
          s = pool.select(route, excluded);
        }
        if (s == null) {
          break;
        }
        try {
          attempt(s);
          return status;
        } catch (LegFailure f) {
          last = f;
          excluded.add(f.worker);
          gateway.workerFailed(f.worker);
          if (attempt < config.retry().maxAttempts()) {
            gateway.metrics().retries.labelValues(f.leg).inc();
            sleep(backoff);
            backoff =
                Math.min(
                    (long) (backoff * config.retry().backoffMultiplier()),
                    config.retry().maxBackoffMs());
          }
        }
      }
    } catch (ClientGone gone) {
      gateway.metrics().clientDisconnects.inc();
      return 499;
    }
    String why =
        last == null
            ? "no healthy worker in pool '" + pool.name() + "'"
            : "all attempts failed; last: " + last.getMessage();
    int code = last == null ? 503 : 502;
    gateway.sendError(res, code, why, "upstream_error");
    return code;
  }

  private void attempt(Selection s) throws LegFailure, ClientGone {
    if (s.colocated()) {
      // The client's own bytes: a colocated request is forwarded unchanged.
      decodeLeg(s.decode(), null, body, "colocated", rawBody, new AtomicReference<>(), null);
    } else if (pool.mode() == Mode.SGLANG) {
      sglang(s);
    } else {
      nixl(s);
    }
  }

  // ---- vLLM NixlConnector protocol ------------------------------------------------------------

  /** Prefill leg: the client's request made non-streaming, one token, asking for remote decode. */
  static ObjectNode prefillRequest(ObjectNode original) {
    ObjectNode p = original.deepCopy();
    p.put("stream", false);
    p.put("max_tokens", 1);
    p.put("max_completion_tokens", 1);
    p.remove("stream_options");
    p.remove("min_tokens");
    p.set("kv_transfer_params", KvTransferParams.prefillRequest().toJson());
    return p;
  }

  /** Decode leg: the client's original request plus the prefill's kv_transfer_params as given. */
  static ObjectNode decodeRequest(ObjectNode original, JsonNode kvTransferParams) {
    ObjectNode d = original.deepCopy();
    d.set("kv_transfer_params", kvTransferParams.deepCopy());
    return d;
  }

  private void nixl(Selection s) throws LegFailure, ClientGone {
    Worker prefill = s.prefill();
    JsonNode answer = prefillLeg(prefill, prefillRequest(body));
    if (answer == null) {
      return; // a client error from the worker was relayed as is
    }
    JsonNode kv = answer.get("kv_transfer_params");
    if (kv == null || !kv.isObject()) {
      throw new LegFailure(prefill, "prefill", "answer has no kv_transfer_params");
    }
    decodeLeg(s.decode(), prefill, decodeRequest(body, kv), "decode");
  }

  /** Runs the prefill leg to completion; null when a 4xx answer was passed to the client. */
  private JsonNode prefillLeg(Worker prefill, ObjectNode request) throws LegFailure, ClientGone {
    gateway.selected(prefill, "prefill");
    prefill.begin(true);
    long t0 = System.nanoTime();
    try (UpstreamClient.Response r =
        gateway.client().send(prefill.uri(path), bytes(request), config.requestTimeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (clientError(r.status())) {
        sendUpstreamAnswer(r.status(), r.contentType(), answer, prefill, null);
        prefill.breaker().onSuccess();
        return null;
      }
      if (r.status() != 200) {
        throw new LegFailure(prefill, "prefill", "HTTP " + r.status() + " " + snippet(answer));
      }
      JsonNode json;
      try {
        json = Json.MAPPER.readTree(answer);
      } catch (IOException e) {
        throw new LegFailure(prefill, "prefill", "answer is not JSON");
      }
      prefill.breaker().onSuccess();
      return json;
    } catch (IOException | RuntimeException e) {
      throw new LegFailure(prefill, "prefill", describe(e));
    } finally {
      prefill.end(true);
      gateway.metrics().upstreamLatency.labelValues("prefill").observe(seconds(t0));
    }
  }

  // ---- SGLang bootstrap protocol --------------------------------------------------------------

  /** The body SGLang's router sends to both sides: bootstrap fields naming the prefill worker. */
  static ObjectNode sglangRequest(ObjectNode original, Worker prefill, long[] rooms) {
    ObjectNode b = original.deepCopy();
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
  static int batchSize(ObjectNode body) {
    JsonNode prompt = body.get("prompt");
    if (prompt != null && prompt.isArray() && !prompt.isEmpty() && !prompt.get(0).isNumber()) {
      return prompt.size();
    }
    return 1;
  }

  private void sglang(Selection s) throws LegFailure, ClientGone {
    Worker prefill = s.prefill();
    long[] rooms = new long[batchSize(body)];
    for (int i = 0; i < rooms.length; i++) {
      rooms[i] = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
    }
    ObjectNode request = sglangRequest(body, prefill, rooms);
    byte[] payload = bytes(request);
    AtomicReference<UpstreamClient.Response> decodeUpstream = new AtomicReference<>();
    AtomicReference<String> prefillError = new AtomicReference<>();
    gateway.selected(prefill, "prefill");
    CompletableFuture<Void> prefillDone =
        CompletableFuture.runAsync(
            () -> {
              prefill.begin(true);
              long t0 = System.nanoTime();
              try (UpstreamClient.Response r =
                  gateway.client().send(prefill.uri(path), payload, config.requestTimeoutMs())) {
                r.body().transferTo(OutputStream.nullOutputStream());
                if (r.status() != 200) {
                  prefillError.set("HTTP " + r.status());
                }
              } catch (IOException | RuntimeException e) {
                prefillError.set(describe(e));
              } finally {
                prefill.end(true);
                gateway.metrics().upstreamLatency.labelValues("prefill").observe(seconds(t0));
              }
              if (prefillError.get() != null) {
                // The decode side would wait for KV that never comes: cut it off.
                UpstreamClient.Response d = decodeUpstream.get();
                if (d != null) {
                  d.abort();
                }
              } else {
                prefill.breaker().onSuccess();
              }
            },
            gateway.executor());
    try {
      decodeLeg(s.decode(), prefill, request, "decode", payload, decodeUpstream, prefillError);
    } catch (LegFailure f) {
      prefillDone.join();
      if (prefillError.get() != null) {
        throw new LegFailure(prefill, "prefill", prefillError.get());
      }
      throw f;
    }
  }

  // ---- decode / colocated leg and relaying ----------------------------------------------------

  private void decodeLeg(Worker decode, Worker prefill, ObjectNode request, String leg)
      throws LegFailure, ClientGone {
    decodeLeg(decode, prefill, request, leg, bytes(request), new AtomicReference<>(), null);
  }

  private void decodeLeg(
      Worker decode,
      Worker prefill,
      ObjectNode request,
      String leg,
      byte[] payload,
      AtomicReference<UpstreamClient.Response> handle,
      AtomicReference<String> sideFailure)
      throws LegFailure, ClientGone {
    gateway.selected(decode, leg);
    decode.begin(false);
    long t0 = System.nanoTime();
    UpstreamClient.Response r = null;
    try {
      try {
        r = gateway.client().send(decode.uri(path), payload, config.requestTimeoutMs());
      } catch (IOException | RuntimeException e) {
        throw new LegFailure(decode, leg, describe(e));
      }
      handle.set(r);
      if (sideFailure != null && sideFailure.get() != null) {
        r.abort();
      }
      if (r.status() != 200) {
        byte[] answer = readAll(r, decode, leg);
        if (clientError(r.status())) {
          sendUpstreamAnswer(r.status(), r.contentType(), answer, prefill, decode);
          decode.breaker().onSuccess();
          return;
        }
        throw new LegFailure(decode, leg, "HTTP " + r.status() + " " + snippet(answer));
      }
      if (stream) {
        new StreamRelay(decode, prefill, leg).relay(r);
      } else {
        byte[] answer = readAll(r, decode, leg);
        sendUpstreamAnswer(200, r.contentType(), answer, prefill, decode);
      }
      decode.breaker().onSuccess();
    } finally {
      if (r != null) {
        r.close();
      }
      decode.end(false);
      gateway.metrics().upstreamLatency.labelValues(leg).observe(seconds(t0));
    }
  }

  private static byte[] readAll(UpstreamClient.Response r, Worker w, String leg) throws LegFailure {
    try {
      return r.body().readAllBytes();
    } catch (IOException | RuntimeException e) {
      throw new LegFailure(w, leg, "answer broke off: " + describe(e));
    }
  }

  private void sendUpstreamAnswer(
      int code, String contentType, byte[] answer, Worker prefill, Worker decode)
      throws ClientGone {
    status = code;
    res.status(code);
    workerHeaders(prefill, decode);
    res.header(HeaderNames.CONTENT_TYPE, contentType == null ? "application/json" : contentType);
    try {
      res.send(answer);
    } catch (RuntimeException e) {
      throw new ClientGone(e);
    }
  }

  private void workerHeaders(Worker prefill, Worker decode) {
    if (prefill != null) {
      res.header(Gateway.PREFILL_HEADER, prefill.url());
    }
    if (decode != null) {
      res.header(Gateway.DECODE_HEADER, decode.url());
    }
  }

  /**
   * Copies an SSE stream to the client event by event (each flushed as it arrives), keeps the text
   * streamed so far, and on a break continues on another worker.
   */
  private final class StreamRelay {
    private final Worker prefill;
    private Worker decode;
    private String leg;
    private OutputStream out;
    private final StringBuilder generated = new StringBuilder();
    private int generatedTokens;
    private int migrations;
    private long lastEventNanos;
    private boolean trackable = true;
    private final List<Worker> migratedTo = new ArrayList<>();

    StreamRelay(Worker decode, Worker prefill, String leg) {
      this.decode = decode;
      this.prefill = prefill;
      this.leg = leg;
    }

    void relay(UpstreamClient.Response first) throws LegFailure, ClientGone {
      try {
        relayAll(first);
      } finally {
        for (Worker w : migratedTo) {
          w.end(false);
        }
      }
    }

    private void relayAll(UpstreamClient.Response first) throws LegFailure, ClientGone {
      UpstreamClient.Response r = first;
      while (true) {
        String broken = copy(r, migrations > 0);
        if (broken == null) {
          return;
        }
        if (out == null) {
          throw new LegFailure(decode, leg, broken);
        }
        gateway.workerFailed(decode);
        Set<Worker> avoid = new HashSet<>();
        avoid.add(decode);
        UpstreamClient.Response next = migrate(avoid);
        if (next == null) {
          endWithError("decode worker " + decode.url() + " failed mid-stream: " + broken);
          return;
        }
        r = next;
      }
    }

    /** Copies one upstream stream; returns null at a clean end, else why it broke. */
    private String copy(UpstreamClient.Response r, boolean continuation) throws ClientGone {
      InputStream in = r.body();
      ByteArrayOutputStream line = new ByteArrayOutputStream(256);
      ByteArrayOutputStream event = new ByteArrayOutputStream(512);
      byte[] buf = new byte[8192];
      boolean sawDone = false;
      boolean eventHasData = false;
      boolean skipEvent = false;
      try {
        while (true) {
          int n;
          try {
            n = in.read(buf);
          } catch (IOException | RuntimeException e) {
            return describe(e);
          }
          if (n < 0) {
            return sawDone ? null : "stream ended without [DONE]";
          }
          for (int i = 0; i < n; i++) {
            byte b = buf[i];
            line.write(b);
            if (b != '\n') {
              continue;
            }
            byte[] l = line.toByteArray();
            line.reset();
            boolean blank = l.length == 1 || (l.length == 2 && l[0] == '\r');
            if (!blank) {
              if (startsWith(l, "data:")) {
                String data = new String(l, 5, l.length - 5, StandardCharsets.UTF_8).trim();
                if (data.equals("[DONE]")) {
                  sawDone = true;
                } else {
                  eventHasData = true;
                  skipEvent |= track(data, continuation);
                }
              }
              event.writeBytes(l);
              continue;
            }
            event.writeBytes(l);
            if (!skipEvent) {
              write(event.toByteArray(), eventHasData);
            }
            event.reset();
            eventHasData = false;
            skipEvent = false;
            if (sawDone) {
              finish();
              return null;
            }
          }
        }
      } finally {
        if (!sawDone) {
          r.abort();
        }
      }
    }

    /**
     * Notes the text of one chunk for a later migration; returns true when the chunk should not
     * reach the client (a continuation's role-only opening chunk).
     */
    private boolean track(String data, boolean continuation) {
      if (!config.migration().enabled() || !trackable) {
        return false;
      }
      JsonNode chunk;
      try {
        chunk = Json.MAPPER.readTree(data);
      } catch (IOException e) {
        return false;
      }
      JsonNode choices = chunk.path("choices");
      if (choices.size() > 1 || chunk.has("error")) {
        trackable = choices.size() <= 1;
        return false;
      }
      JsonNode choice = choices.path(0);
      String text =
          chat ? choice.path("delta").path("content").asText("") : choice.path("text").asText("");
      if (!text.isEmpty()) {
        generated.append(text);
        generatedTokens++;
      }
      return continuation && chat && text.isEmpty() && choice.path("delta").has("role");
    }

    private void write(byte[] bytes, boolean tokenEvent) throws ClientGone {
      try {
        if (out == null) {
          res.status(200);
          workerHeaders(prefill, decode);
          res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
          res.header(HeaderNames.CACHE_CONTROL, "no-cache");
          out = res.outputStream();
        }
        out.write(bytes);
        out.flush();
      } catch (IOException | RuntimeException e) {
        throw new ClientGone(e);
      }
      if (tokenEvent) {
        long now = System.nanoTime();
        if (lastEventNanos == 0) {
          gateway.metrics().ttft.observe((now - startNanos) / 1e9);
        } else {
          gateway.metrics().itl.observe((now - lastEventNanos) / 1e9);
        }
        lastEventNanos = now;
      }
    }

    private void finish() throws ClientGone {
      try {
        out.close();
      } catch (IOException | RuntimeException e) {
        throw new ClientGone(e);
      }
    }

    /** Sends the prompt plus the text streamed so far to another worker; null if impossible. */
    private UpstreamClient.Response migrate(Set<Worker> avoid) throws ClientGone {
      ObjectNode continuation = continuationRequest(body, chat, generated, generatedTokens);
      if (!config.migration().enabled()
          || !trackable
          || migrations >= config.migration().maxMigrations()
          || pool.mode() == Mode.SGLANG
          || continuation == null) {
        return null;
      }
      if (remaining(continuation) == 0) {
        write(DONE, false);
        finish();
        return null;
      }
      byte[] payload = bytes(continuation);
      for (int attempt = 0; attempt < config.retry().maxAttempts(); attempt++) {
        Selection s = pool.select(route, avoid);
        if (s == null) {
          return null;
        }
        Worker next = s.decode();
        gateway.selected(next, "migration");
        try {
          UpstreamClient.Response r =
              gateway.client().send(next.uri(path), payload, config.requestTimeoutMs());
          if (r.status() == 200) {
            next.begin(false);
            migratedTo.add(next);
            migrations++;
            gateway.metrics().migrations.inc();
            decode = next;
            leg = "migration";
            return r;
          }
          r.abort();
        } catch (IOException | RuntimeException e) {
          // try another worker
        }
        avoid.add(next);
        gateway.workerFailed(next);
      }
      return null;
    }

    private void endWithError(String message) throws ClientGone {
      status = 502;
      ObjectNode err = new OpenAiError(message, "upstream_error", null, "upstream_failed").toJson();
      write(("data: " + Json.write(err) + "\n\n").getBytes(StandardCharsets.UTF_8), false);
      write(DONE, false);
      finish();
    }
  }

  /**
   * The request that continues a broken stream elsewhere: the prompt plus the text already sent,
   * with the token budget reduced by what was streamed. Null when the prompt is not text.
   */
  static ObjectNode continuationRequest(
      ObjectNode original, boolean chat, CharSequence generated, int generatedTokens) {
    ObjectNode c = original.deepCopy();
    c.remove("kv_transfer_params");
    if (chat) {
      ArrayNode messages = c.withArray("messages");
      ObjectNode assistant = messages.addObject();
      assistant.put("role", "assistant");
      assistant.put("content", generated.toString());
      c.put("continue_final_message", true);
      c.put("add_generation_prompt", false);
    } else {
      JsonNode prompt = c.get("prompt");
      if (prompt != null && prompt.isTextual()) {
        c.put("prompt", prompt.asText() + generated);
      } else if (prompt != null
          && prompt.isArray()
          && prompt.size() == 1
          && prompt.get(0).isTextual()) {
        c.put("prompt", prompt.get(0).asText() + generated);
      } else {
        return null;
      }
    }
    for (String budget : new String[] {"max_tokens", "max_completion_tokens"}) {
      if (c.has(budget)) {
        c.put(budget, Math.max(0, c.get(budget).asInt() - generatedTokens));
      }
    }
    if (c.has("min_tokens")) {
      c.put("min_tokens", Math.max(0, c.get("min_tokens").asInt() - generatedTokens));
    }
    return c;
  }

  private static int remaining(ObjectNode continuation) {
    int left = Integer.MAX_VALUE;
    for (String budget : new String[] {"max_tokens", "max_completion_tokens"}) {
      if (continuation.has(budget)) {
        left = Math.min(left, continuation.get(budget).asInt());
      }
    }
    return left;
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static boolean clientError(int code) {
    return code >= 400 && code < 500 && code != 429 && code != 408;
  }

  private static boolean startsWith(byte[] line, String prefix) {
    if (line.length < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (line[i] != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static byte[] bytes(ObjectNode node) {
    try {
      return Json.MAPPER.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String snippet(byte[] answer) {
    String s = new String(answer, 0, Math.min(answer.length, 200), StandardCharsets.UTF_8);
    return s.replace('\n', ' ');
  }

  static String describe(Throwable e) {
    Throwable t = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
