package dev.baton.gateway;

import dev.baton.gateway.GatewayConfig.Mode;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The endpoints SGLang's tools call on SGLang's router, answered as the router answers them: {@code
 * /get_server_info} and {@code /get_model_info} (and their newer names) from the first prefill
 * worker, {@code /flush_cache} on every worker (200, or 206 naming the workers that failed), and
 * {@code /health_generate} on one prefill/decode pair. The native {@code /generate} route goes
 * through the gateway's normal flow.
 */
final class SglangRoutes {

  private final Gateway gateway;

  SglangRoutes(Gateway gateway) {
    this.gateway = gateway;
  }

  void register(HttpRouting.Builder routing) {
    routing
        .get("/get_server_info", (req, res) -> info(req, res, "/get_server_info"))
        .get("/server_info", (req, res) -> info(req, res, "/server_info"))
        .get("/get_model_info", (req, res) -> info(req, res, "/get_model_info"))
        .get("/model_info", (req, res) -> info(req, res, "/model_info"))
        .post("/flush_cache", this::flushCache)
        .get("/flush_cache", this::flushCache)
        .get("/health_generate", this::healthGenerate);
  }

  /** SGLang pools first (their workers answer these), then the others, in config order. */
  private List<PoolRuntime> poolsSglangFirst() {
    List<PoolRuntime> ordered = new ArrayList<>(gateway.pools());
    ordered.sort(Comparator.comparing(p -> p.mode() == Mode.SGLANG ? 0 : 1));
    return ordered;
  }

  /** Proxies a GET to the first available prefill worker (a colocated one in colocated pools). */
  private void info(ServerRequest req, ServerResponse res, String path) {
    if (!gateway.authorized(req)) {
      Exchange.sendError(res, 401, "missing or invalid API key", "authentication_error");
      return;
    }
    Worker target = null;
    PoolRuntime pool = null;
    for (PoolRuntime p : poolsSglangFirst()) {
      for (Worker w : p.workers()) {
        if (target == null
            && w.available()
            && (p.mode() == Mode.COLOCATED || w.role().canPrefill())) {
          target = w;
          pool = p;
        }
      }
    }
    if (target == null) {
      Exchange.sendError(res, 503, "no prefill worker is available", "upstream_error");
      return;
    }
    try (UpstreamClient.Response r =
        gateway
            .client()
            .send(target.uri(path), null, gateway.config().health().timeoutMs(), headers(pool))) {
      byte[] body = r.body().readAllBytes();
      res.status(r.status());
      res.header(
          HeaderNames.CONTENT_TYPE, r.contentType() == null ? "application/json" : r.contentType());
      res.send(body);
    } catch (IOException | RuntimeException e) {
      Exchange.sendError(
          res, 502, "worker " + target.url() + " did not answer " + path, "upstream_error");
    }
  }

  /** POST /flush_cache to every worker of every pool; 206 when some failed, as SGLang's router. */
  private void flushCache(ServerRequest req, ServerResponse res) {
    if (!gateway.authorized(req)) {
      Exchange.sendError(res, 401, "missing or invalid API key", "authentication_error");
      return;
    }
    Map<String, Worker> all = new LinkedHashMap<>();
    Map<Worker, PoolRuntime> poolOf = new LinkedHashMap<>();
    for (PoolRuntime p : gateway.pools()) {
      for (Worker w : p.workers()) {
        if (all.putIfAbsent(w.url(), w) == null) {
          poolOf.put(w, p);
        }
      }
    }
    Map<Worker, CompletableFuture<String>> calls = new LinkedHashMap<>();
    for (Worker w : all.values()) {
      Map<String, String> headers = headers(poolOf.get(w));
      calls.put(w, CompletableFuture.supplyAsync(() -> flushOne(w, headers), gateway.executor()));
    }
    List<String> ok = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    calls.forEach(
        (w, call) -> {
          String error = call.join();
          String name = (w.role().canPrefill() ? "Prefill " : "Decode ") + w.url();
          if (error == null) {
            ok.add(name + ": OK");
          } else {
            failed.add(name + " " + error);
          }
        });
    String text =
        failed.isEmpty()
            ? "Cache flushed successfully: " + ok
            : "Partial success. Results: " + ok + ", Errors: " + failed;
    text(res, failed.isEmpty() ? 200 : 206, text);
  }

  /** Null when the worker flushed, else why not. */
  private String flushOne(Worker w, Map<String, String> headers) {
    try (UpstreamClient.Response r =
        gateway
            .client()
            .send(
                w.uri("/flush_cache"),
                new byte[0],
                gateway.config().health().timeoutMs(),
                headers)) {
      r.body().readAllBytes();
      return r.status() >= 200 && r.status() < 300 ? null : "returned status: " + r.status();
    } catch (IOException | RuntimeException e) {
      return "error: " + ProxyFlow.describe(e);
    }
  }

  /**
   * One generated token through one pair, as SGLang's router checks it: the least loaded available
   * prefill and decode worker of the first pool each answer {@code /health_generate} (SGLang
   * workers) or {@code /health} (other engines, which have no such route).
   */
  private void healthGenerate(ServerRequest req, ServerResponse res) {
    List<PoolRuntime> pools = poolsSglangFirst();
    if (pools.isEmpty()) {
      text(res, 503, "No healthy worker pair available: no pool");
      return;
    }
    PoolRuntime pool = pools.getFirst();
    String path = pool.mode() == Mode.SGLANG ? "/health_generate" : "/health";
    List<Worker> pair = new ArrayList<>();
    Worker decode = leastLoaded(pool, false);
    if (pool.mode() != Mode.COLOCATED) {
      Worker prefill = leastLoaded(pool, true);
      if (prefill != null) {
        pair.add(prefill);
      }
    }
    if (decode != null) {
      pair.add(decode);
    }
    if (decode == null || (pool.mode() != Mode.COLOCATED && pair.size() < 2)) {
      text(res, 503, "No healthy worker pair available in pool '" + pool.name() + "'");
      return;
    }
    Map<Worker, CompletableFuture<String>> checks = new LinkedHashMap<>();
    for (Worker w : pair) {
      Map<String, String> headers = headers(pool);
      checks.put(
          w, CompletableFuture.supplyAsync(() -> check(w, path, headers), gateway.executor()));
    }
    List<String> errors = new ArrayList<>();
    checks.forEach(
        (w, c) -> {
          String error = c.join();
          if (error != null) {
            errors.add(w.url() + " " + error);
          }
        });
    if (errors.isEmpty()) {
      text(
          res,
          200,
          "Health generate passed on selected pair: " + pair.stream().map(Worker::url).toList());
    } else {
      text(res, 503, "Health generate failed: " + errors);
    }
  }

  private static void text(ServerResponse res, int code, String message) {
    res.status(code);
    res.header(HeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    res.send(message.getBytes(StandardCharsets.UTF_8));
  }

  private String check(Worker w, String path, Map<String, String> headers) {
    try (UpstreamClient.Response r =
        gateway.client().send(w.uri(path), null, gateway.config().requestTimeoutMs(), headers)) {
      r.body().readAllBytes();
      return r.status() == 200 ? null : "returned status " + r.status();
    } catch (IOException | RuntimeException e) {
      return "error: " + ProxyFlow.describe(e);
    }
  }

  /** The pool's worker key as the Bearer token, as on inference legs; never the client's key. */
  private static Map<String, String> headers(PoolRuntime pool) {
    String key = pool.config().workerApiKey();
    return key == null ? Map.of() : Map.of("Authorization", "Bearer " + key);
  }

  private static Worker leastLoaded(PoolRuntime pool, boolean prefill) {
    Worker best = null;
    for (Worker w : pool.workers()) {
      boolean fits = prefill ? w.role().canPrefill() : w.role().canDecode();
      if (w.available() && fits && (best == null || w.load() < best.load())) {
        best = w;
      }
    }
    return best;
  }
}
