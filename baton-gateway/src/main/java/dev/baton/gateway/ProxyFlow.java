package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.gateway.Exchange.ClientGone;
import dev.baton.gateway.PoolRuntime.Selection;
import dev.baton.gateway.protocol.ColocatedProtocol;
import dev.baton.gateway.protocol.NixlPairing;
import dev.baton.gateway.protocol.PdProtocol;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One client request through the gateway: choose workers, run the legs the pool's {@link
 * PdProtocol} asks for (one after the other, or both at once), relay the answer, and retry when a
 * worker fails before the client has seen a byte. A decode stream that breaks later is continued
 * elsewhere by {@link StreamRelay}.
 */
final class ProxyFlow {

  private static final PdProtocol COLOCATED = new ColocatedProtocol();

  private final FlowContext ctx;
  private final GatewayConfig config;
  private final ClientCall call;
  private final Exchange exchange;

  ProxyFlow(FlowContext ctx, GatewayConfig config, ClientCall call, Exchange exchange) {
    this.ctx = ctx;
    this.config = config;
    this.call = call;
    this.exchange = exchange;
  }

  /** Runs the request to the end and returns the HTTP status the client got. */
  int run() {
    if (call.protocol().hasPrefillLeg() && !call.protocol().concurrentLegs()) {
      PdFanOut fanOut;
      try {
        fanOut = PdFanOut.of(ctx, config, call, exchange);
      } catch (IllegalArgumentException e) {
        exchange.sendError(400, e.getMessage(), "invalid_request_error");
        return 400;
      }
      if (fanOut != null) {
        return fanOut.run();
      }
    }
    Set<Worker> excluded = new HashSet<>();
    long backoff = config.retry().backoffMs();
    LegFailure last = null;
    try {
      for (int attempt = 1; attempt <= config.retry().maxAttempts(); attempt++) {
        Selection s = call.pool().select(call.route(), excluded);
        if (s == null && !excluded.isEmpty()) {
          // Every worker failed this request once: try them again (after the backoff) rather
          // than give up while attempts remain; the breakers keep really dead ones out.
          excluded.clear();
          s = call.pool().select(call.route(), excluded);
        }
        if (s == null) {
          break;
        }
        if (!s.colocated()
            && s.prefill() != null
            && !NixlPairing.pairable(s.prefill().nixlPairing(), s.decode().nixlPairing())) {
          // Not a failure of either worker: this decode worker cannot free this prefill's KV.
          last =
              new LegFailure(
                  s.decode(),
                  "decode",
                  "speaks vLLM's shared-request-id pairing (before 0.12) and cannot free the KV of"
                      + " prefill worker "
                      + s.prefill().url()
                      + ", which names a remote_request_id (0.12 and later)");
          excluded.add(s.decode());
          continue;
        }
        try {
          attempt(s);
          return exchange.status();
        } catch (LegFailure f) {
          last = f;
          excluded.add(f.worker);
          ctx.workerFailed(f.worker);
          if (attempt < config.retry().maxAttempts()) {
            ctx.metrics().retries.labelValues(f.leg).inc();
            sleep(backoff);
            backoff =
                Math.min(
                    (long) (backoff * config.retry().backoffMultiplier()),
                    config.retry().maxBackoffMs());
          }
        }
      }
    } catch (ClientGone gone) {
      ctx.metrics().clientDisconnects.inc();
      return 499;
    }
    String why =
        last == null
            ? "no healthy worker in pool '" + call.pool().name() + "'"
            : "all attempts failed; last: " + last.getMessage();
    int code = last == null ? 503 : 502;
    exchange.sendError(code, why, "upstream_error");
    return code;
  }

  private void attempt(Selection s) throws LegFailure, ClientGone {
    PdProtocol protocol = s.colocated() ? COLOCATED : call.protocol();
    if (!protocol.hasPrefillLeg()) {
      // The client's own bytes: a colocated request is forwarded unchanged.
      byte[] payload = call.rawBody();
      if (Continuation.tracksTokenIds(config, call)) {
        ObjectNode body = call.body().deepCopy();
        body.put("return_token_ids", true); // for a token-exact migration; stripped for the client
        payload = bytes(body);
      }
      decodeLeg(s.decode(), null, "colocated", payload, new AtomicReference<>(), null);
    } else if (protocol.concurrentLegs()) {
      concurrentLegs(protocol, s);
    } else {
      sequentialLegs(protocol, s);
    }
  }

  /** Prefill first; its answer shapes the decode request (vLLM NixlConnector). */
  private void sequentialLegs(PdProtocol protocol, Selection s) throws LegFailure, ClientGone {
    Worker prefill = s.prefill();
    ObjectNode prefillRequest = protocol.prefillRequest(call.body(), prefill);
    JsonNode answer = prefillLeg(prefill, prefillRequest);
    if (answer == null) {
      return; // a client error from the worker was relayed as is
    }
    ObjectNode decodeRequest =
        protocol.decodeRequest(
            call.body(),
            prefill,
            s.decode(),
            prefillRequest,
            answer,
            call.requestId(),
            call.chat());
    if (Continuation.tracksTokenIds(config, call)) {
      decodeRequest.put("return_token_ids", true); // for a token-exact migration; stripped later
    }
    decodeLeg(s.decode(), prefill, "decode", bytes(decodeRequest), new AtomicReference<>(), null);
  }

  /** Runs the prefill leg to completion; null when a 4xx answer was passed to the client. */
  private JsonNode prefillLeg(Worker prefill, ObjectNode request) throws LegFailure, ClientGone {
    ctx.selected(prefill, "prefill");
    prefill.begin(true);
    long t0 = System.nanoTime();
    try (UpstreamClient.Response r =
        ctx.client()
            .send(
                prefill.uri(call.path()),
                bytes(request),
                config.requestTimeoutMs(),
                call.upstreamHeaders())) {
      byte[] answer = r.body().readAllBytes();
      if (clientError(r.status())) {
        exchange.sendAnswer(r.status(), r.contentType(), answer, prefill, null);
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
      ctx.metrics().upstreamLatency.labelValues("prefill").observe(seconds(t0));
    }
  }

  /**
   * Both legs at once (SGLang bootstrap): the prefill answer is drained in the background; if it
   * fails, the decode leg (which would wait for KV that never comes) is cut off.
   */
  private void concurrentLegs(PdProtocol protocol, Selection s) throws LegFailure, ClientGone {
    Worker prefill = s.prefill();
    ObjectNode prefillRequest = protocol.prefillRequest(call.body(), prefill);
    protocol.tagRequestId(prefillRequest, call.requestId());
    byte[] prefillPayload = bytes(prefillRequest);
    ObjectNode decodeRequest = protocol.decodeRequest(call.body(), prefill, prefillRequest, null);
    byte[] decodePayload = decodeRequest == prefillRequest ? prefillPayload : bytes(decodeRequest);
    AtomicReference<UpstreamClient.Response> decodeUpstream = new AtomicReference<>();
    AtomicReference<String> prefillError = new AtomicReference<>();
    ctx.selected(prefill, "prefill");
    CompletableFuture<Void> prefillDone =
        CompletableFuture.runAsync(
            () -> drainPrefill(prefill, prefillPayload, prefillError, decodeUpstream),
            ctx.executor());
    try {
      decodeLeg(s.decode(), prefill, "decode", decodePayload, decodeUpstream, prefillError);
    } catch (ClientGone gone) {
      abortIfRunning(protocol, prefill, prefillRequest, prefillDone);
      throw gone;
    } catch (LegFailure f) {
      abortIfRunning(protocol, prefill, prefillRequest, prefillDone);
      prefillDone.join();
      if (prefillError.get() != null) {
        throw new LegFailure(prefill, "prefill", prefillError.get());
      }
      throw f;
    }
  }

  /**
   * The decode leg is over (failed, or the client left) while the prefill still runs: tell the
   * prefill worker to abort it (SGLang's {@code /abort_request} by {@code rid}) rather than let it
   * hold its KV for a decode that will never come until the bootstrap times out.
   */
  private void abortIfRunning(
      PdProtocol protocol, Worker prefill, ObjectNode prefillRequest, CompletableFuture<?> done) {
    ObjectNode abort = protocol.abortRequest(prefillRequest);
    if (done.isDone() || abort == null) {
      return;
    }
    byte[] payload = bytes(abort);
    ctx.executor()
        .execute(
            () -> {
              try (UpstreamClient.Response r =
                  ctx.client()
                      .send(
                          prefill.uri(protocol.abortPath()),
                          payload,
                          config.health().timeoutMs(),
                          call.upstreamHeaders())) {
                r.body().transferTo(OutputStream.nullOutputStream());
              } catch (IOException | RuntimeException e) {
                // best effort: the worker's own bootstrap timeout still ends the request
              }
            });
  }

  private void drainPrefill(
      Worker prefill,
      byte[] payload,
      AtomicReference<String> prefillError,
      AtomicReference<UpstreamClient.Response> decodeUpstream) {
    prefill.begin(true);
    long t0 = System.nanoTime();
    try (UpstreamClient.Response r =
        ctx.client()
            .send(
                prefill.uri(call.path()),
                payload,
                config.requestTimeoutMs(),
                call.upstreamHeaders())) {
      r.body().transferTo(OutputStream.nullOutputStream());
      if (r.status() != 200) {
        prefillError.set("HTTP " + r.status());
      }
    } catch (IOException | RuntimeException e) {
      prefillError.set(describe(e));
    } finally {
      prefill.end(true);
      ctx.metrics().upstreamLatency.labelValues("prefill").observe(seconds(t0));
    }
    if (prefillError.get() != null) {
      UpstreamClient.Response d = decodeUpstream.get();
      if (d != null) {
        d.abort();
      }
    } else {
      prefill.breaker().onSuccess();
    }
  }

  /** The decode (or colocated) leg: the answer is relayed whole or streamed. */
  private void decodeLeg(
      Worker decode,
      Worker prefill,
      String leg,
      byte[] payload,
      AtomicReference<UpstreamClient.Response> handle,
      AtomicReference<String> sideFailure)
      throws LegFailure, ClientGone {
    ctx.selected(decode, leg);
    decode.begin(false);
    long t0 = System.nanoTime();
    UpstreamClient.Response r = null;
    try {
      try {
        r =
            ctx.client()
                .send(
                    decode.uri(call.path()),
                    payload,
                    config.requestTimeoutMs(),
                    call.upstreamHeaders());
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
          exchange.sendAnswer(r.status(), r.contentType(), answer, prefill, decode);
          decode.breaker().onSuccess();
          return;
        }
        throw new LegFailure(decode, leg, "HTTP " + r.status() + " " + snippet(answer));
      }
      if (call.stream()) {
        new StreamRelay(ctx, config, call, exchange, decode, prefill, leg).relay(r);
      } else {
        byte[] answer = readAll(r, decode, leg);
        exchange.sendAnswer(200, r.contentType(), answer, prefill, decode);
      }
      decode.breaker().onSuccess();
    } finally {
      if (r != null) {
        r.close();
      }
      decode.end(false);
      ctx.metrics().upstreamLatency.labelValues(leg).observe(seconds(t0));
    }
  }

  private static byte[] readAll(UpstreamClient.Response r, Worker w, String leg) throws LegFailure {
    try {
      return r.body().readAllBytes();
    } catch (IOException | RuntimeException e) {
      throw new LegFailure(w, leg, "answer broke off: " + describe(e));
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static boolean clientError(int code) {
    return code >= 400 && code < 500 && code != 429 && code != 408;
  }

  static byte[] bytes(ObjectNode node) {
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
