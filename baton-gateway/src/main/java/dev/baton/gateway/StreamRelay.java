package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Copies a decode worker's SSE stream to the client event by event (each flushed as it arrives),
 * keeps what was streamed so far, and when the stream breaks after the client has seen bytes,
 * continues it on another decode worker (migration): token-exactly from the prompt's and the
 * streamed tokens' ids where the stream carried them (the gateway asks for them with {@code
 * return_token_ids} and strips them again when the client did not), else from the text. A stream
 * that stalls past the {@link GatewayConfig.DecodeWatchdog} deadlines is cut and treated as broken.
 */
final class StreamRelay {

  static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().daemon().name("gateway-decode-watchdog").unstarted(r));

  private final FlowContext ctx;
  private final GatewayConfig config;
  private final ClientCall call;
  private final Exchange exchange;
  private final Worker prefill;
  private Worker decode;
  private String leg;
  private final StringBuilder generated = new StringBuilder();
  private int generatedTokens;
  private final boolean stripTokenIds;
  private List<Integer> promptIds;
  private final List<Integer> generatedIds = new ArrayList<>();
  private boolean chatFromCompletion;
  private String streamId;
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
    this.stripTokenIds = Continuation.tracksTokenIds(config, call);
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
    String rewritten = null;
    Stall stall = new Stall(r);
    try {
      while (true) {
        int n;
        try {
          stall.beginRead();
          n = in.read(buf);
        } catch (IOException | RuntimeException e) {
          return stall.why != null ? stall.why : ProxyFlow.describe(e);
        } finally {
          stall.endRead();
        }
        if (stall.why != null) {
          return stall.why;
        }
        if (n < 0) {
          return sawDone ? null : stall.why != null ? stall.why : "stream ended without [DONE]";
        }
        stall.progress();
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
                String failure = UpstreamErrorEvent.failureIn(data);
                if (failure != null) {
                  return failure; // not relayed: retried, migrated, or ended with our own error
                }
                eventHasData = true;
                String out = track(data, continuation);
                if (out == null) {
                  skipEvent = true;
                } else if (!out.equals(data)) {
                  rewritten = out;
                }
              }
            }
            event.writeBytes(l);
            continue;
          }
          event.writeBytes(l);
          if (!skipEvent) {
            write(
                rewritten == null
                    ? event.toByteArray()
                    : ("data: " + rewritten + "\n\n").getBytes(StandardCharsets.UTF_8),
                eventHasData);
          }
          event.reset();
          eventHasData = false;
          skipEvent = false;
          rewritten = null;
          if (sawDone) {
            exchange.finishStream();
            return null;
          }
        }
      }
    } finally {
      stall.stop();
      if (!sawDone) {
        r.abort();
      }
    }
  }

  /**
   * The decode watchdog of one upstream stream: cuts it when its first event does not come within
   * {@code first_byte_ms} or two events are more than {@code idle_ms} apart; {@link #why} then says
   * which. Closing the response does not wake a read blocked in the socket, so the reading
   * (virtual) thread is interrupted too, which closes the socket under it; the interrupt is only
   * sent while that thread reads, and cleared after, so nothing later sees it.
   */
  private final class Stall {
    private final UpstreamClient.Response upstream;
    private final Thread reader = Thread.currentThread();
    private boolean reading;
    private final long start = System.nanoTime();
    private volatile long last;
    private volatile String why;
    private final ScheduledFuture<?> check;

    Stall(UpstreamClient.Response upstream) {
      this.upstream = upstream;
      GatewayConfig.DecodeWatchdog w = config.decodeWatchdog();
      long period = Math.min(positiveOr(w.firstByteMs()), positiveOr(w.idleMs())) / 4;
      check =
          period == Long.MAX_VALUE / 4
              ? null
              : WATCHDOG.scheduleAtFixedRate(
                  this::check, period, Math.max(1, period), TimeUnit.MILLISECONDS);
    }

    private static long positiveOr(long ms) {
      return ms > 0 ? ms : Long.MAX_VALUE;
    }

    void progress() {
      last = System.nanoTime();
    }

    synchronized void beginRead() {
      reading = true;
    }

    synchronized void endRead() {
      reading = false;
      if (why != null) {
        Thread.interrupted(); // the cut's interrupt, consumed by the read it ended
      }
    }

    private void check() {
      GatewayConfig.DecodeWatchdog w = config.decodeWatchdog();
      long now = System.nanoTime();
      long seen = last;
      if (seen == 0 && w.firstByteMs() > 0 && now - start > w.firstByteMs() * 1_000_000) {
        cut("no data from " + decode.url() + " within " + w.firstByteMs() + " ms (first_byte_ms)");
      } else if (seen != 0 && w.idleMs() > 0 && now - seen > w.idleMs() * 1_000_000) {
        cut("no data from " + decode.url() + " for " + w.idleMs() + " ms (idle_ms)");
      }
    }

    private synchronized void cut(String reason) {
      if (why == null) {
        why = reason;
        ctx.metrics().watchdogCuts.inc();
        if (reading) {
          reader.interrupt();
        }
        upstream.abort();
      }
    }

    void stop() {
      if (check != null) {
        check.cancel(false);
      }
    }
  }

  /**
   * Notes one chunk for a later migration (its text, its token ids) and returns what the client
   * gets: the chunk as is, the chunk rewritten (token ids the gateway asked for stripped; a
   * continuation's chunks given the stream's id, and chat shape where a chat stream continues as a
   * completion), or null to drop it (a continuation's role-only opening chunk).
   */
  private String track(String data, boolean continuation) {
    if (!config.migration().enabled() || !trackable) {
      return data;
    }
    JsonNode parsed;
    try {
      parsed = Json.MAPPER.readTree(data);
    } catch (IOException e) {
      return data;
    }
    if (!(parsed instanceof ObjectNode chunk)) {
      return data;
    }
    JsonNode choices = chunk.path("choices");
    if (choices.size() > 1 || chunk.has("error")) {
      trackable = choices.size() <= 1;
      return data;
    }
    boolean changed = false;
    if (streamId == null) {
      streamId = chunk.path("id").asText(null);
    } else if (continuation && chunk.has("id") && !chunk.path("id").asText().equals(streamId)) {
      chunk.put("id", streamId);
      changed = true;
    }
    changed |= trackTokenIds(chunk, continuation);
    if (!(choices.path(0) instanceof ObjectNode choice)) {
      return changed ? Json.write(chunk) : data;
    }
    if (chatFromCompletion) {
      chunk.put("object", "chat.completion.chunk");
      choice.putObject("delta").put("content", choice.path("text").asText(""));
      choice.remove("text");
      changed = true;
    }
    String text =
        call.chat()
            ? choice.path("delta").path("content").asText("")
            : choice.path("text").asText("");
    if (!text.isEmpty()) {
      generated.append(text);
      generatedTokens++;
    }
    if (continuation && call.chat() && text.isEmpty() && choice.path("delta").has("role")) {
      return null;
    }
    return changed ? Json.write(chunk) : data;
  }

  /**
   * Keeps the prompt's ids (first sight: the chat opening chunk's {@code prompt_token_ids}, or the
   * completion choice's) and each streamed token's ids; strips them where the client did not ask
   * for them, and a continuation's prompt ids always (they are the extended prompt's).
   */
  private boolean trackTokenIds(ObjectNode chunk, boolean continuation) {
    JsonNode choice = chunk.path("choices").path(0);
    JsonNode prompt =
        chunk.has("prompt_token_ids")
            ? chunk.get("prompt_token_ids")
            : choice.path("prompt_token_ids");
    if (promptIds == null && !continuation && prompt.isArray()) {
      promptIds = new ArrayList<>(prompt.size());
      prompt.forEach(t -> promptIds.add(t.asInt()));
    }
    choice.path("token_ids").forEach(t -> generatedIds.add(t.asInt()));
    boolean changed = false;
    if (stripTokenIds || continuation) {
      changed |= chunk.remove("prompt_token_ids") != null;
      if (choice instanceof ObjectNode c) {
        changed |= c.remove("prompt_token_ids") != null;
      }
    }
    if (stripTokenIds && choice instanceof ObjectNode c) {
      changed |= c.remove("token_ids") != null;
    }
    return changed;
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

  /**
   * Sends the continuation to another worker; null if impossible. Token-exact (a completion from
   * the prompt's and the streamed tokens' ids) when the stream carried ids, else from the text.
   */
  private UpstreamClient.Response migrate(Set<Worker> avoid) throws ClientGone {
    boolean byIds = promptIds != null && Continuation.tokenExactPossible(config, call);
    ObjectNode continuation =
        byIds
            ? Continuation.fromTokens(call.body(), call.chat(), promptIds, generatedIds)
            : Continuation.fromText(call.body(), call.chat(), generated, generatedTokens);
    String path = byIds ? "/v1/completions" : call.path();
    if (!config.migration().enabled()
        || !trackable
        || migrations >= config.migration().maxMigrations()
        || !call.protocol().migratable()
        || continuation == null) {
      return null;
    }
    if (Continuation.remaining(continuation) == 0) {
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
                .send(next.uri(path), payload, config.requestTimeoutMs(), call.upstreamHeaders());
        if (r.status() == 200) {
          next.begin(false);
          migratedTo.add(next);
          migrations++;
          ctx.metrics().migrations.labelValues(byIds ? "token_ids" : "text").inc();
          decode = next;
          leg = "migration";
          chatFromCompletion = byIds && call.chat();
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
