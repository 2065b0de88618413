package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.core.HttpTimeouts;
import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import dev.baton.gateway.policy.Policies;
import dev.baton.gateway.policy.PrefixIndexConfig;
import dev.baton.gateway.protocol.PdProtocols;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The gateway's whole configuration, read from YAML (docs/GATEWAY.md describes every key). Every
 * key is optional except the pools' workers; unknown keys are errors so that typos do not pass
 * silently.
 */
public record GatewayConfig(
    String host,
    int port,
    List<String> apiKeys,
    String adminToken,
    String upstreamClient,
    String tokenizer,
    long maxBodyBytes,
    long idleTimeoutMs,
    long bodyTimeoutMs,
    long requestTimeoutMs,
    long scrapeIntervalMs,
    Health health,
    Retry retry,
    Migration migration,
    DecodeWatchdog decodeWatchdog,
    PrefixIndexConfig prefixIndex,
    List<Pool> pools) {

  public GatewayConfig {
    apiKeys = List.copyOf(apiKeys);
    pools = List.copyOf(pools);
    Set<String> names = new HashSet<>();
    for (Pool pool : pools) {
      if (!names.add(pool.name())) {
        throw new IllegalArgumentException("pool name '" + pool.name() + "' is used twice");
      }
    }
    if (!List.of("socket", "helidon", "jdk").contains(upstreamClient)) {
      throw new IllegalArgumentException(
          "upstream_client must be 'socket', 'helidon' or 'jdk', not '" + upstreamClient + "'");
    }
  }

  /** Active health checks and passive ejection. */
  public record Health(long intervalMs, long timeoutMs, int failureThreshold, long openMs) {}

  /** Retries of legs that failed before the client saw a byte. */
  public record Retry(
      int maxAttempts, long backoffMs, double backoffMultiplier, long maxBackoffMs) {}

  /** Moving a broken decode stream to another worker. */
  public record Migration(boolean enabled, int maxMigrations) {}

  /**
   * Deadlines on a streamed decode leg (0 = none): its first event after the response head, and the
   * gap between two events. A leg past either is cut: retried elsewhere before the client saw a
   * byte, migrated (or ended with an error event) after.
   */
  public record DecodeWatchdog(long firstByteMs, long idleMs) {}

  /** How a pool talks to its workers. */
  public enum Mode {
    /** vLLM NixlConnector two-step protocol (Baton workers speak it too). */
    NIXL,
    /** SGLang bootstrap protocol: both legs at once. */
    SGLANG,
    /** Plain proxying to colocated workers. */
    COLOCATED;

    /** The name of this mode's protocol in {@link PdProtocols}. */
    public String wireName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Reads a mode by any name {@link PdProtocols} registers (vllm and baton mean nixl). */
    static Mode parse(String text) {
      return valueOf(PdProtocols.create(text).name().toUpperCase(java.util.Locale.ROOT));
    }
  }

  /**
   * A pool of workers serving the same models. {@code disaggregationThreshold}: prompts whose
   * uncached part (estimated from the prefix index) is shorter go to a decode worker as colocated
   * requests; {@code prefillSaturation}: when every prefill worker has that many prefills
   * outstanding, the same happens (0 turns either off). {@code workerApiKey}: the key the pool's
   * workers want ({@code --api-key}), sent as their Bearer token; a client's own key is never
   * passed on. {@code sessionAffinity}: requests of one {@code x-session-id} go back to the
   * session's workers whatever the policy ({@link SessionPins}).
   */
  public record Pool(
      String name,
      Mode mode,
      List<String> models,
      String prefillPolicy,
      String decodePolicy,
      int disaggregationThreshold,
      int prefillSaturation,
      int maxInFlight,
      int queueSize,
      long queueTimeoutMs,
      String workerApiKey,
      boolean sessionAffinity,
      List<WorkerSpec> workers) {
    public Pool {
      models = List.copyOf(models);
      workers = List.copyOf(workers);
      Policies.requireKnown(prefillPolicy);
      Policies.requireKnown(decodePolicy);
      if (maxInFlight < 1 || queueSize < 0) {
        throw new IllegalArgumentException(
            "pool '" + name + "': max_in_flight must be >= 1 and queue_size >= 0");
      }
    }
  }

  /** A config with one colocated pool and defaults everywhere, for tests and quick starts. */
  public static GatewayConfig defaults() {
    return parse(Yaml.MAPPER.createObjectNode());
  }

  public static GatewayConfig load(Path file) throws IOException {
    JsonNode root;
    try {
      root = Yaml.MAPPER.readTree(Files.readString(file));
    } catch (java.nio.file.NoSuchFileException e) {
      throw new IllegalArgumentException("config file " + file + " does not exist", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read config " + file + ": " + e.getMessage(), e);
    }
    try {
      return parse(root == null ? Yaml.MAPPER.createObjectNode() : root);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("config " + file + ": " + e.getMessage(), e);
    }
  }

  public static GatewayConfig parseYaml(String yaml) {
    try {
      JsonNode root = Yaml.MAPPER.readTree(yaml);
      return parse(root == null ? Yaml.MAPPER.createObjectNode() : root);
    } catch (IOException e) {
      throw new IllegalArgumentException("malformed YAML: " + e.getMessage(), e);
    }
  }

  static GatewayConfig parse(JsonNode root) {
    ConfigNode n = ConfigNode.strict("", root);
    n.only(
        "host",
        "port",
        "api_keys",
        "admin_token",
        "upstream_client",
        "tokenizer",
        "max_body_bytes",
        "idle_timeout_ms",
        "body_timeout_ms",
        "request_timeout_ms",
        "scrape_interval_ms",
        "health",
        "retry",
        "migration",
        "decode_watchdog",
        "prefix_index",
        "pools");
    ConfigNode h = n.child("health");
    h.only("interval_ms", "timeout_ms", "failure_threshold", "open_ms");
    ConfigNode r = n.child("retry");
    r.only("max_attempts", "backoff_ms", "backoff_multiplier", "max_backoff_ms");
    ConfigNode m = n.child("migration");
    m.only("enabled", "max_migrations");
    ConfigNode w = n.child("decode_watchdog");
    w.only("first_byte_ms", "idle_ms");
    ConfigNode p = n.child("prefix_index");
    p.only(
        "capacity_blocks",
        "block_size",
        "chars_per_block",
        "cache_threshold",
        "balance_abs",
        "balance_rel");
    List<Pool> pools = new ArrayList<>();
    for (ConfigNode pool : n.list("pools")) {
      pools.add(parsePool(pool));
    }
    if (pools.isEmpty()) {
      pools.add(parsePool(ConfigNode.strict("pools[0]", Yaml.MAPPER.createObjectNode())));
    }
    return new GatewayConfig(
        // Loopback unless configured, as workers and cluster processes bind: exposing the
        // gateway is a decision, not a default.
        n.text("host", "127.0.0.1"),
        n.nonNegativeInt("port", 8000),
        n.strings("api_keys"),
        n.text("admin_token", null),
        n.text("upstream_client", "socket"),
        n.text("tokenizer", null),
        n.positiveLong("max_body_bytes", 8L << 20),
        n.positiveLong("idle_timeout_ms", HttpTimeouts.DEFAULTS.idle().toMillis()),
        n.positiveLong("body_timeout_ms", HttpTimeouts.DEFAULTS.body().toMillis()),
        n.positiveLong("request_timeout_ms", 600_000),
        n.positiveLong("scrape_interval_ms", 1000),
        new Health(
            h.positiveLong("interval_ms", 2000),
            h.positiveLong("timeout_ms", 1000),
            h.nonNegativeInt("failure_threshold", 3),
            h.positiveLong("open_ms", 5000)),
        new Retry(
            Math.max(1, r.nonNegativeInt("max_attempts", 3)),
            r.positiveLong("backoff_ms", 20),
            r.decimal("backoff_multiplier", 2.0),
            r.positiveLong("max_backoff_ms", 1000)),
        new Migration(m.bool("enabled", true), m.nonNegativeInt("max_migrations", 2)),
        new DecodeWatchdog(
            w.nonNegativeInt("first_byte_ms", 120_000), w.nonNegativeInt("idle_ms", 30_000)),
        new PrefixIndexConfig(
            p.nonNegativeInt("capacity_blocks", 1 << 18),
            p.nonNegativeInt("block_size", 16),
            p.nonNegativeInt("chars_per_block", 64),
            p.decimal("cache_threshold", 0.3),
            p.nonNegativeInt("balance_abs", 32),
            p.decimal("balance_rel", 1.5)),
        pools);
  }

  private static Pool parsePool(ConfigNode pool) {
    pool.only(
        "name",
        "mode",
        "models",
        "policy",
        "prefill_policy",
        "decode_policy",
        "disaggregation_threshold",
        "prefill_saturation",
        "max_in_flight",
        "queue_size",
        "queue_timeout_ms",
        "worker_api_key",
        "session_affinity",
        "workers");
    String policy = pool.text("policy", "least-request");
    List<WorkerSpec> workers = new ArrayList<>();
    for (ConfigNode w : pool.list("workers")) {
      workers.add(parseWorker(w));
    }
    return new Pool(
        pool.text("name", "default"),
        Mode.parse(pool.text("mode", "colocated")),
        pool.strings("models"),
        pool.text("prefill_policy", policy),
        pool.text("decode_policy", policy),
        pool.nonNegativeInt("disaggregation_threshold", 0),
        pool.nonNegativeInt("prefill_saturation", 0),
        pool.nonNegativeInt("max_in_flight", 1024),
        pool.nonNegativeInt("queue_size", 4096),
        pool.positiveLong("queue_timeout_ms", 10_000),
        pool.text("worker_api_key", null),
        pool.bool("session_affinity", false),
        workers);
  }

  static WorkerSpec parseWorker(ConfigNode w) {
    w.only("url", "role", "group", "bootstrap_port", "kv_events", "kv_events_replay");
    String url = w.text("url", null);
    if (url == null) {
      throw new IllegalArgumentException(w.path() + ": a worker needs a url");
    }
    return new WorkerSpec(
        url,
        Role.parse(w.text("role", "both")),
        w.text("group", null),
        // 0: learned from the worker's /get_server_info (SGLang's default 8998 until then).
        w.nonNegativeInt("bootstrap_port", 0),
        w.text("kv_events", null),
        w.text("kv_events_replay", null));
  }

  /** YAML mapper (shared, thread-safe). */
  static final class Yaml {
    static final ObjectMapper MAPPER = new ObjectMapper(new YAMLFactory());
  }
}
