package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.OpenAiError;
import dev.baton.gateway.Exchange.ClientGone;
import dev.baton.gateway.PoolRuntime.Selection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Copies a decode worker's SSE stream to the client event by event (each flushed as it arrives),
 * keeps the text streamed so far, and when the stream breaks after the client has seen bytes,
 * continues it on another decode worker (migration) with the prompt plus that text.
 */
final class StreamRelay {

  static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

  private final FlowContext ctx;
  private final GatewayConfig config;
  private final ClientCall call;
  private final Exchange exchange;
  private final Worker prefill;
  private Worker decode;
  private String leg;
  private final StringBuilder generated = new StringBuilder();
  private int generatedTokens;
  private int migrations;
  private long lastEventNanos;
  private boolean trackable = true;
  private final List<Worker> migratedTo = new ArrayList<>();

  StreamRelay(
      FlowContext ctx,
      GatewayConfig config,
      ClientCall call,
      Exchange exchange,
      Worker decode,
      Worker prefill,
      String leg) {
    this.ctx = ctx;
    this.config = config;
    this.call = call;
    this.exchange = exchange;
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
      if (!exchange.streaming()) {
        throw new LegFailure(decode, leg, broken);
      }
      ctx.workerFailed(decode);
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
          return ProxyFlow.describe(e);
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
            exchange.finishStream();
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
   * Notes the text of one chunk for a later migration; returns true when the chunk should not reach
   * the client (a continuation's role-only opening chunk).
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
        call.chat()
            ? choice.path("delta").path("content").asText("")
            : choice.path("text").asText("");
    if (!text.isEmpty()) {
      generated.append(text);
      generatedTokens++;
    }
    return continuation && call.chat() && text.isEmpty() && choice.path("delta").has("role");
  }

  private void write(byte[] bytes, boolean tokenEvent) throws ClientGone {
    exchange.writeEvent(bytes, prefill, decode);
    if (tokenEvent) {
      long now = System.nanoTime();
      if (lastEventNanos == 0) {
        ctx.metrics().ttft.observe((now - call.startNanos()) / 1e9);
      } else {
        ctx.metrics().itl.observe((now - lastEventNanos) / 1e9);
      }
      lastEventNanos = now;
    }
  }

  /** Sends the prompt plus the text streamed so far to another worker; null if impossible. */
  private UpstreamClient.Response migrate(Set<Worker> avoid) throws ClientGone {
    ObjectNode continuation =
        continuationRequest(call.body(), call.chat(), generated, generatedTokens);
    if (!config.migration().enabled()
        || !trackable
        || migrations >= config.migration().maxMigrations()
        || !call.protocol().migratable()
        || continuation == null) {
      return null;
    }
    if (remaining(continuation) == 0) {
      write(DONE, false);
      exchange.finishStream();
      return null;
    }
    byte[] payload = ProxyFlow.bytes(continuation);
    for (int attempt = 0; attempt < config.retry().maxAttempts(); attempt++) {
      Selection s = call.pool().select(call.route(), avoid);
      if (s == null) {
        return null;
      }
      Worker next = s.decode();
      ctx.selected(next, "migration");
      try {
        UpstreamClient.Response r =
            ctx.client()
                .send(
                    next.uri(call.path()),
                    payload,
                    config.requestTimeoutMs(),
                    call.upstreamHeaders());
        if (r.status() == 200) {
          next.begin(false);
          migratedTo.add(next);
          migrations++;
          ctx.metrics().migrations.inc();
          decode = next;
          leg = "migration";
          return r;
        }
        r.abort();
      } catch (IOException | RuntimeException e) {
        // try another worker
      }
      avoid.add(next);
      ctx.workerFailed(next);
    }
    return null;
  }

  private void endWithError(String message) throws ClientGone {
    exchange.status(502);
    ObjectNode err = new OpenAiError(message, "upstream_error", null, "upstream_failed").toJson();
    write(("data: " + Json.write(err) + "\n\n").getBytes(StandardCharsets.UTF_8), false);
    write(DONE, false);
    exchange.finishStream();
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
}
