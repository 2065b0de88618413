package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.HttpTimeouts;
import dev.baton.core.Json;
import dev.baton.core.http.ConnectionGuard;
import dev.baton.core.http.ServerStart;
import dev.baton.gateway.GatewayConfig.Pool;
import dev.baton.gateway.policy.KvEventIndex;
import dev.baton.gateway.policy.Policies;
import dev.baton.gateway.policy.PrefixIndex;
import dev.baton.gateway.policy.PromptKeys;
import dev.baton.gateway.policy.PromptTokenizer;
import dev.baton.gateway.policy.RouteRequest;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Logger;

/**
 * The gateway: an OpenAI-compatible HTTP front ({@code /v1/completions}, {@code
 * /v1/chat/completions}, {@code /v1/models}, {@code /health}, {@code /metrics}) that routes every
 * request to a prefill/decode pair (or one colocated worker) of a pool, plus the admin API the
 * control plane uses, active health checks and metrics scraping of the workers.
 */
public final class Gateway implements AutoCloseable, FlowContext {

  static final HeaderName SESSION_HEADER = HeaderNames.create("x-session-id");
  static final HeaderName REQUEST_ID_HEADER = HeaderNames.create("x-request-id");
  private static final Logger LOG = Logger.getLogger(Gateway.class.getName());

  private final Path configFile;
  private final PromptTokenizer tokenizer;
  private final GatewayMetrics metrics = new GatewayMetrics();
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<String, Map<String, WorkerSpec>> adminAdded = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> adminRemoved = new ConcurrentHashMap<>();
  private volatile GatewayConfig config;
  private volatile Map<String, PoolRuntime> pools = Map.of();
  private volatile PromptKeys promptKeys;
  private final UpstreamClient client;
  private WebServer server;
  private final HealthMonitor monitor;
  private final KvEventFeeds kvEventFeeds = new KvEventFeeds();

  /** A gateway for {@code config}; {@code configFile} (may be null) is what reload re-reads. */
  public Gateway(GatewayConfig config, Path configFile, PromptTokenizer tokenizer) {
    this.configFile = configFile;
    this.tokenizer = tokenizer;
    this.client = UpstreamClient.create(config.upstreamClient());
    apply(config);
    this.monitor =
        new HealthMonitor(this::config, this::allWorkers, client, executor, this, kvEventFeeds);
  }

  /** Starts serving on {@code port} (0 = any free port); returns this. */
  public Gateway start(int port) {
    HttpTimeouts timeouts =
        new HttpTimeouts(
            Duration.ofMillis(config.idleTimeoutMs()), Duration.ofMillis(config.bodyTimeoutMs()));
    ConnectionGuard guard = new ConnectionGuard(timeouts);
    HttpRouting.Builder routing =
        HttpRouting.builder()
            .addFilter(guard::filter)
            .post("/v1/completions", (req, res) -> inference(req, res, "/v1/completions"))
            .post("/v1/chat/completions", (req, res) -> inference(req, res, "/v1/chat/completions"))
            .post("/generate", (req, res) -> inference(req, res, "/generate"))
            .get("/v1/models", this::models)
            .get("/health", this::health)
            .get("/metrics", this::metricsEndpoint);
    new AdminApi(this).register(routing);
    new SglangRoutes(this).register(routing);
    routing.any(
        (req, res) ->
            sendError(
                res,
                404,
                "no route for " + req.prologue().method().text() + " " + req.path().path(),
                "not_found_error"));
    WebServer built =
        WebServer.builder()
            .host(config.host())
            .port(port)
            .protocolsDiscoverServices(false)
            .addConnectionSelector(guard.selector())
            .idleConnectionTimeout(timeouts.idle())
            .idleConnectionPeriod(timeouts.checkPeriod())
            .routing(routing)
            .shutdownHook(false)
            .build();
    server = ServerStart.start(built, config.host(), port);
    monitor.start();
    return this;
  }

  public int port() {
    return server.port();
  }

  public GatewayConfig config() {
    return config;
  }

  @Override
  public GatewayMetrics metrics() {
    return metrics;
  }

  @Override
  public UpstreamClient client() {
    return client;
  }

  @Override
  public ExecutorService executor() {
    return executor;
  }

  PoolRuntime pool(String name) {
    return pools.get(name);
  }

  /** The pools in config order. */
  List<PoolRuntime> pools() {
    return orderedPools;
  }

  /** One round of active health checks (tests drive it instead of waiting for the loop). */
  void checkHealthOnce() {
    monitor.checkHealthOnce();
  }

  /** One round of metrics scraping. */
  void scrapeOnce() {
    monitor.scrapeOnce();
  }

  private List<Worker> allWorkers() {
    List<Worker> all = new ArrayList<>();
    for (PoolRuntime p : orderedPools) {
      all.addAll(p.workers());
    }
    return all;
  }

  @Override
  public void close() {
    monitor.close();
    kvEventFeeds.close();
    if (server != null) {
      server.stop();
    }
    executor.shutdownNow();
    client.close();
  }

  // ---- configuration and workers --------------------------------------------------------------

  /**
   * Installs a config. Pools whose settings are unchanged keep their runtime (index, policies,
   * queue); every worker that stays keeps its object and state, so requests in flight are not
   * disturbed.
   */
  private synchronized void apply(GatewayConfig next) {
    Map<String, PoolRuntime> old = pools;
    Map<String, PoolRuntime> fresh = new LinkedHashMap<>();
    for (Pool p : next.pools()) {
      List<Worker> workers = new ArrayList<>();
      PoolRuntime previous = old.get(p.name());
      for (WorkerSpec spec : effectiveWorkers(p.name(), p.workers())) {
        Worker existing = previous == null ? null : previous.find(spec.url());
        workers.add(
            existing != null && existing.spec().equals(spec) ? existing : newWorker(spec, next));
      }
      if (previous != null && sameSettings(previous.config(), p)) {
        previous.setWorkers(workers);
        fresh.put(p.name(), previous);
      } else {
        Policies.Context ctx =
            new Policies.Context(next.prefixIndex(), ThreadLocalRandom.current());
        PrefixIndex index = new PrefixIndex(next.prefixIndex().capacityBlocks());
        for (Worker w : workers) {
          w.slot(-1);
        }
        fresh.put(
            p.name(),
            new PoolRuntime(
                p,
                Policies.create(p.prefillPolicy(), ctx),
                Policies.create(p.decodePolicy(), ctx),
                index,
                workers));
      }
    }
    promptKeys =
        new PromptKeys(
            tokenizer, next.prefixIndex().blockSize(), next.prefixIndex().charsPerBlock());
    config = next;
    pools = Map.copyOf(fresh);
    orderedPools = List.copyOf(fresh.values());
    kvEventFeeds.sync(allWorkers());
  }

  private volatile List<PoolRuntime> orderedPools = List.of();

  private static boolean sameSettings(Pool a, Pool b) {
    return a.mode() == b.mode()
        && a.prefillPolicy().equals(b.prefillPolicy())
        && a.decodePolicy().equals(b.decodePolicy())
        && a.models().equals(b.models())
        && a.disaggregationThreshold() == b.disaggregationThreshold()
        && a.prefillSaturation() == b.prefillSaturation()
        && a.maxInFlight() == b.maxInFlight()
        && a.queueSize() == b.queueSize()
        && a.queueTimeoutMs() == b.queueTimeoutMs()
        && a.sessionAffinity() == b.sessionAffinity();
  }

  private List<WorkerSpec> effectiveWorkers(String pool, List<WorkerSpec> configured) {
    Map<String, WorkerSpec> byUrl = new LinkedHashMap<>();
    Set<String> removed = adminRemoved.getOrDefault(pool, Set.of());
    for (WorkerSpec w : configured) {
      if (!removed.contains(w.url())) {
        byUrl.put(w.url(), w);
      }
    }
    byUrl.putAll(adminAdded.getOrDefault(pool, Map.of()));
    return new ArrayList<>(byUrl.values());
  }

  private Worker newWorker(WorkerSpec spec, GatewayConfig cfg) {
    Worker w =
        new Worker(
            spec,
            new CircuitBreaker(
                cfg.health().failureThreshold(), cfg.health().openMs(), System::nanoTime));
    if (spec.kvEvents() != null) {
      w.kvEvents(
          new KvEventIndex(cfg.prefixIndex().blockSize(), cfg.prefixIndex().capacityBlocks()));
    }
    return w;
  }

  /** Re-reads the config file; on a bad file the running config stays and the error is thrown. */
  public void reload() throws IOException {
    if (configFile == null) {
      throw new IllegalStateException(
          "the gateway was started without --config: nothing to reload");
    }
    apply(GatewayConfig.load(configFile));
  }

  /** Adds (or replaces) a worker in a pool, as the admin API does. */
  public synchronized void addWorker(String pool, WorkerSpec spec) {
    if (!pools.containsKey(pool)) {
      throw new IllegalArgumentException("no pool named '" + pool + "'");
    }
    adminAdded.computeIfAbsent(pool, k -> new ConcurrentHashMap<>()).put(spec.url(), spec);
    Set<String> removed = adminRemoved.get(pool);
    if (removed != null) {
      removed.remove(spec.url());
    }
    apply(config);
    // Check it and learn its models now, so that requests naming its model route the moment the
    // admin call returns (baton up returns right after registering its workers).
    Worker added = pools.get(pool).find(spec.url());
    if (added != null) {
      monitor.checkNow(added);
    }
  }

  /** Removes a worker from a pool; false when it was not there. */
  public synchronized boolean removeWorker(String pool, String url) {
    PoolRuntime p = pools.get(pool);
    if (p == null || p.find(url) == null) {
      return false;
    }
    Map<String, WorkerSpec> added = adminAdded.get(pool);
    if (added != null) {
      added.remove(url);
    }
    adminRemoved.computeIfAbsent(pool, k -> ConcurrentHashMap.newKeySet()).add(url);
    apply(config);
    return true;
  }

  @Override
  public void selected(Worker w, String leg) {
    metrics.selections.labelValues(w.url(), leg).inc();
  }

  @Override
  public void workerFailed(Worker w) {
    if (w.breaker().onFailure()) {
      metrics.ejections.labelValues(w.url()).inc();
      LOG.warning(() -> "ejected worker " + w.url() + " after repeated failures");
    }
  }

  // ---- inference ------------------------------------------------------------------------------

  private void inference(ServerRequest req, ServerResponse res, String route) {
    long start = System.nanoTime();
    GatewayConfig cfg = config;
    if (!authorized(req, cfg)) {
      sendError(res, 401, "missing or invalid API key", "authentication_error");
      count(route, 401, "-");
      return;
    }
    long declared = req.headers().contentLength().orElse(-1);
    if (declared > cfg.maxBodyBytes()) {
      // Refused before reading a byte (and before any 100 Continue): nothing is buffered.
      sendError(
          res,
          413,
          "request body of " + declared + " bytes exceeds " + cfg.maxBodyBytes(),
          "invalid_request_error");
      count(route, 413, "-");
      return;
    }
    ObjectNode body;
    byte[] raw;
    try {
      raw = readBounded(req, declared, cfg.maxBodyBytes());
      if (raw == null) {
        sendError(
            res,
            413,
            "request body exceeds " + cfg.maxBodyBytes() + " bytes",
            "invalid_request_error");
        count(route, 413, "-");
        return;
      }
      JsonNode parsed;
      try {
        parsed = Json.MAPPER.readTree(raw);
      } catch (IOException e) {
        throw new IOException("the body is not valid JSON");
      }
      if (parsed == null || !parsed.isObject()) {
        throw new IOException("the body must be a JSON object");
      }
      body = (ObjectNode) parsed;
      if (body.remove("kv_transfer_params") != null) {
        // Only the gateway's own P/D legs may carry these: a client must never steer a
        // worker's KV channel (whom it dials, which blocks it loads), so they are dropped here,
        // for every route, and the colocated route forwards the cleaned body.
        raw = Json.MAPPER.writeValueAsBytes(body);
      }
    } catch (IOException | RuntimeException e) {
      // Our own messages only: a library's exception text may name internals.
      String why = e instanceof IOException ? e.getMessage() : "the request body could not be read";
      sendError(res, 400, "malformed request: " + why, "invalid_request_error");
      count(route, 400, "-");
      return;
    }
    PoolRuntime pool = poolFor(body.path("model").asText(null));
    if (pool == null) {
      sendError(res, 503, "no pool is configured", "upstream_error");
      count(route, 503, "-");
      return;
    }
    if (route.equals("/generate") && pool.mode() == GatewayConfig.Mode.NIXL) {
      // vLLM and Baton workers have no native /generate: only SGLang pools serve it.
      sendError(
          res,
          404,
          "the native /generate route is served by SGLang pools; pool '"
              + pool.name()
              + "' speaks vLLM's protocol: use /v1/completions",
          "not_found_error");
      count(route, 404, "-");
      return;
    }
    boolean admitted;
    try {
      admitted = pool.admission().enter();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (!admitted) {
      metrics.rejected.labelValues(pool.name()).inc();
      res.header(HeaderNames.RETRY_AFTER, "1");
      sendError(
          res,
          429,
          "pool '" + pool.name() + "' is at capacity; retry later",
          "rate_limit_exceeded");
      count(route, 429, pool.policyLabel());
      return;
    }
    try {
      String session = req.headers().first(SESSION_HEADER).orElse(null);
      int status =
          new ProxyFlow(
                  this,
                  cfg,
                  call(pool, body, raw, route, session, start, requestId(req, res)),
                  new HttpExchange(res))
              .run();
      count(route, status, pool.policyLabel());
    } finally {
      pool.admission().leave();
    }
  }

  /**
   * The client's {@code X-Request-Id} when it is a sane token (printable ASCII, at most 128
   * characters), else a fresh one; echoed to the client.
   */
  private static String requestId(ServerRequest req, ServerResponse res) {
    String given = req.headers().first(REQUEST_ID_HEADER).orElse(null);
    String id =
        given != null && given.length() <= 128 && given.chars().allMatch(c -> c > 32 && c < 127)
            ? given
            : randomId();
    res.header(REQUEST_ID_HEADER, id);
    return id;
  }

  /**
   * A random (version 4) UUID. Request ids only correlate logs and pair legs, so they need no
   * SecureRandom (UUID.randomUUID's was 2% of the gateway's CPU per proxied request).
   */
  private static String randomId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long hi = (r.nextLong() & ~0xf000L) | 0x4000L;
    long lo = (r.nextLong() & ~0xc000000000000000L) | 0x8000000000000000L;
    return new java.util.UUID(hi, lo).toString();
  }

  /**
   * The body, or null when it grows past {@code limit} (chunked uploads have no length). A body
   * with a Content-Length (already checked against the limit) is read into one array of that size.
   */
  private static byte[] readBounded(ServerRequest req, long declared, long limit)
      throws IOException {
    try (java.io.InputStream in = req.content().inputStream()) {
      if (declared >= 0) {
        byte[] body = in.readNBytes((int) declared);
        if (body.length < declared) {
          throw new IOException("the request body could not be read (shorter than its length?)");
        }
        return body;
      }
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      byte[] chunk = new byte[8192];
      for (int n; (n = in.read(chunk)) > 0; ) {
        out.write(chunk, 0, n);
        if (out.size() > limit) {
          return null;
        }
      }
      return out.toByteArray();
    } catch (java.io.UncheckedIOException | IllegalStateException e) {
      throw new IOException("the request body could not be read (shorter than its length?)");
    }
  }

  private void count(String route, int status, String policy) {
    metrics.requests.labelValues(route, Integer.toString(status), policy).inc();
  }

  /** The pool serving {@code model}: by configured or discovered model names, else the first. */
  private PoolRuntime poolFor(String model) {
    List<PoolRuntime> all = orderedPools;
    if (all.isEmpty()) {
      return null;
    }
    if (model != null && all.size() > 1) {
      for (PoolRuntime p : all) {
        if (p.config().models().contains(model)) {
          return p;
        }
      }
      for (PoolRuntime p : all) {
        for (Worker w : p.workers()) {
          if (monitor.modelsOf(w).contains(model)) {
            return p;
          }
        }
      }
    }
    return all.get(0);
  }

  /** Whether the request carries one of the configured API keys (or none is configured). */
  boolean authorized(ServerRequest req) {
    return authorized(req, config);
  }

  private static boolean authorized(ServerRequest req, GatewayConfig cfg) {
    if (cfg.apiKeys().isEmpty()) {
      return true;
    }
    return Credentials.matches(
        req.headers().first(HeaderNames.AUTHORIZATION).orElse(null), cfg.apiKeys());
  }

  /** One request as the flow sees it; its prompt is hashed only if a policy asks. */
  private ClientCall call(
      PoolRuntime pool,
      ObjectNode body,
      byte[] raw,
      String path,
      String session,
      long start,
      String requestId) {
    RouteRequest route = route(pool, body, path.endsWith("chat/completions"), session);
    return new ClientCall(body, raw, path, pool, pool.protocol(), route, start, requestId);
  }

  @Override
  public RouteRequest route(PoolRuntime pool, ObjectNode body, boolean chat, String sessionId) {
    PromptKeys keys = promptKeys;
    return new RouteRequest(
        sessionId, pool.hashesPrompts() ? () -> keys.of(body, chat) : null, pool.index());
  }

  private static void sendError(ServerResponse res, int code, String message, String type) {
    Exchange.sendError(res, code, message, type);
  }

  private static void sendJson(ServerResponse res, int code, JsonNode json) {
    Exchange.sendJson(res, code, json);
  }

  // ---- models, health, metrics ----------------------------------------------------------------

  private void models(ServerRequest req, ServerResponse res) {
    if (!authorized(req, config)) {
      sendError(res, 401, "missing or invalid API key", "authentication_error");
      return;
    }
    Set<String> ids = new LinkedHashSet<>();
    for (PoolRuntime p : orderedPools) {
      ids.addAll(p.config().models());
      for (Worker w : p.workers()) {
        ids.addAll(monitor.modelsOf(w));
      }
    }
    ObjectNode out = Json.object();
    out.put("object", "list");
    ArrayNode data = out.putArray("data");
    for (String id : ids) {
      ObjectNode m = data.addObject();
      m.put("id", id);
      m.put("object", "model");
      m.put("owned_by", "baton");
    }
    sendJson(res, 200, out);
  }

  private void health(ServerRequest req, ServerResponse res) {
    ObjectNode out = Json.object();
    out.put("status", "ok");
    ObjectNode ps = out.putObject("pools");
    for (PoolRuntime p : orderedPools) {
      int available = 0;
      for (Worker w : p.workers()) {
        available += w.available() ? 1 : 0;
      }
      ObjectNode n = ps.putObject(p.name());
      n.put("workers", p.workers().size());
      n.put("available", available);
    }
    sendJson(res, 200, out);
  }

  private void metricsEndpoint(ServerRequest req, ServerResponse res) {
    for (PoolRuntime p : orderedPools) {
      for (Worker w : p.workers()) {
        metrics.inFlight.labelValues(w.url()).set(w.inFlight());
      }
    }
    res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    res.send(metrics.text().getBytes(StandardCharsets.UTF_8));
  }
}
