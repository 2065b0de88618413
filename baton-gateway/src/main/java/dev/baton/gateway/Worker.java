package dev.baton.gateway;

import dev.baton.core.Role;
import dev.baton.gateway.policy.KvEventIndex;
import dev.baton.gateway.protocol.NixlPairing;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One upstream worker and what the gateway knows of its load and health: its own in-flight counts
 * (always fresh) and the numbers scraped from the worker's {@code /metrics} (periodic).
 */
public final class Worker {

  private final WorkerSpec spec;
  private final URI base;
  private final java.util.Map<String, URI> uris = new java.util.concurrent.ConcurrentHashMap<>();
  private final CircuitBreaker breaker;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger prefillsInFlight = new AtomicInteger();
  private volatile boolean healthy = true;
  private int failedChecks;
  private volatile double scrapedRunning;
  private volatile double scrapedWaiting;
  private volatile double kvCacheUsage;
  private volatile int slot = -1;
  private volatile KvEventIndex kvEvents;
  private volatile NixlPairing nixlPairing = NixlPairing.UNKNOWN;
  private volatile int reportedBootstrapPort;

  /** SGLang's default {@code --disaggregation-bootstrap-port}. */
  static final int DEFAULT_BOOTSTRAP_PORT = 8998;

  /**
   * A worker the gateway never calls, only counts: what the fleet simulator routes with the real
   * policies. Its breaker never opens (nothing reports failures to it).
   */
  public static Worker forSimulation(WorkerSpec spec) {
    return new Worker(spec, new CircuitBreaker(Integer.MAX_VALUE, 0, System::nanoTime));
  }

  public Worker(WorkerSpec spec, CircuitBreaker breaker) {
    this.spec = spec;
    this.base = URI.create(spec.url());
    this.breaker = breaker;
  }

  public String url() {
    return spec.url();
  }

  public WorkerSpec spec() {
    return spec;
  }

  public Role role() {
    return spec.role();
  }

  /** Replica-mode group id, or null in pool mode. */
  public String group() {
    return spec.group();
  }

  URI uri(String path) {
    // A handful of fixed API paths per worker: resolving (parsing) one per request was measurable.
    URI u = uris.get(path);
    if (u == null) {
      u = base.resolve(path);
      if (uris.size() < 64) {
        uris.put(path, u);
      }
    }
    return u;
  }

  public String host() {
    return base.getHost();
  }

  CircuitBreaker breaker() {
    return breaker;
  }

  /** Healthy by the last active check and not ejected by the breaker. */
  public boolean available() {
    return healthy && breaker.allows();
  }

  boolean healthy() {
    return healthy;
  }

  void healthy(boolean value) {
    healthy = value;
  }

  /**
   * Records one active health check; the worker is marked unhealthy only after {@code threshold}
   * consecutive failed checks (a busy worker answering one check late is not taken out), and
   * healthy again at the first passing one. Returns the new health.
   */
  synchronized boolean checked(boolean ok, int threshold) {
    failedChecks = ok ? 0 : failedChecks + 1;
    healthy = ok || (healthy && failedChecks < threshold);
    return healthy;
  }

  /** Requests this gateway has running on the worker (either leg). */
  public int inFlight() {
    return inFlight.get();
  }

  /** Prefill legs this gateway has outstanding on the worker. */
  public int prefillsInFlight() {
    return prefillsInFlight.get();
  }

  public void begin(boolean prefill) {
    inFlight.incrementAndGet();
    if (prefill) {
      prefillsInFlight.incrementAndGet();
    }
  }

  public void end(boolean prefill) {
    inFlight.decrementAndGet();
    if (prefill) {
      prefillsInFlight.decrementAndGet();
    }
  }

  /**
   * Load seen by policies: the larger of this gateway's own in-flight count (fresh) and the
   * worker's scraped running + waiting requests (which include other gateways' traffic).
   */
  public double load() {
    return Math.max(inFlight.get(), scrapedRunning + scrapedWaiting);
  }

  /** Scraped {@code vllm:kv_cache_usage_perc}, in [0, 1]. */
  public double kvCacheUsage() {
    return kvCacheUsage;
  }

  double scrapedRunning() {
    return scrapedRunning;
  }

  public void scraped(double running, double waiting, double kvUsage) {
    scrapedRunning = running;
    scrapedWaiting = waiting;
    kvCacheUsage = kvUsage;
  }

  /**
   * The SGLang bootstrap port of a prefill worker: the configured one, else the one the worker
   * reported in {@code /get_server_info} ({@code disaggregation_bootstrap_port}), else SGLang's
   * default 8998.
   */
  public int bootstrapPort() {
    if (spec.bootstrapPort() > 0) {
      return spec.bootstrapPort();
    }
    int reported = reportedBootstrapPort;
    return reported > 0 ? reported : DEFAULT_BOOTSTRAP_PORT;
  }

  /** Whether the bootstrap port is still to be learned from the worker. */
  boolean learnsBootstrapPort() {
    return spec.bootstrapPort() == 0 && spec.role().canPrefill() && reportedBootstrapPort == 0;
  }

  void reportedBootstrapPort(int port) {
    reportedBootstrapPort = port;
  }

  /** How this worker pairs P/D legs, as its vLLM version ({@code /version}) tells. */
  public NixlPairing nixlPairing() {
    return nixlPairing;
  }

  void nixlPairing(NixlPairing pairing) {
    nixlPairing = pairing;
  }

  /** A worker's KV event sockets: the PUB endpoint and the replay endpoint (or null). */
  record KvEventEndpoints(String events, String replay) {}

  private volatile KvEventEndpoints discoveredKvEvents;

  /**
   * Where the worker publishes its KV events: as configured ({@code kv_events}, {@code
   * kv_events_replay}), else as the worker told on {@code GET /kv_events}; null when neither.
   */
  KvEventEndpoints kvEventEndpoints() {
    return spec.kvEvents() != null
        ? new KvEventEndpoints(spec.kvEvents(), spec.kvEventsReplay())
        : discoveredKvEvents;
  }

  void discoveredKvEvents(KvEventEndpoints endpoints) {
    discoveredKvEvents = endpoints;
  }

  /** The worker's cache as its KV events tell it, or null when it publishes none. */
  public KvEventIndex kvEvents() {
    return kvEvents;
  }

  void kvEvents(KvEventIndex index) {
    kvEvents = index;
  }

  /** Small id (0..63) used by the prefix index, or -1 when the pool has no free slot. */
  public int slot() {
    return slot;
  }

  public void slot(int value) {
    slot = value;
  }

  @Override
  public String toString() {
    return spec.url() + "(" + spec.role().name().toLowerCase(java.util.Locale.ROOT) + ")";
  }
}
