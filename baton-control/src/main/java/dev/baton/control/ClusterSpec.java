package dev.baton.control;

import dev.baton.core.Role;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A whole cluster as the user declares it (docs/CLUSTER_SPEC.md): the model, how it scales, the
 * gateway and every role. Built by {@link SpecParser}, which has already validated it; nothing here
 * depends on how workers are launched, so the Kubernetes operator reads the same spec.
 *
 * @param name cluster name (run directory, labels); {@code null} when the spec does not name one
 * @param model a GGUF path, or {@code random:tiny|small|1b} to have one created
 * @param host the address every process binds to (loopback by default)
 * @param groups the xPyD unit of scale in replica mode; {@code null} in pool mode
 * @param roles per role, in the order prefill, decode, both; roles not in the spec are absent
 * @param cpuPinning each worker on its own cores ({@link CpuPinning}); local clusters only
 */
public record ClusterSpec(
    String name,
    String model,
    Mode mode,
    String host,
    EngineSettings engine,
    KvTransferSpec kvTransfer,
    GatewaySpec gateway,
    GroupsSpec groups,
    Map<Role, RoleSpec> roles,
    AutoscalerSettings autoscaler,
    SupervisionSettings supervision,
    boolean cpuPinning) {

  public ClusterSpec {
    EnumMap<Role, RoleSpec> copy = new EnumMap<>(Role.class);
    copy.putAll(roles);
    roles = Collections.unmodifiableMap(copy);
  }

  /** The prefix of {@link #model} that asks for a generated random model. */
  public static final String RANDOM_MODEL_PREFIX = "random:";

  /** The random-model preset, or {@code null} when the model is a file path. */
  public String randomPreset() {
    return model.startsWith(RANDOM_MODEL_PREFIX)
        ? model.substring(RANDOM_MODEL_PREFIX.length())
        : null;
  }

  /** Whether prefill and decode run on separate workers (there is a prefill role). */
  public boolean disaggregated() {
    RoleSpec prefill = roles.get(Role.PREFILL);
    return prefill != null && (mode == Mode.REPLICA || prefill.max() > 0);
  }

  /**
   * Workers of a role the cluster starts with: in replica mode the per-group count times the number
   * of groups (the colocated {@code both} pool scales on its own in either mode).
   */
  public int initialWorkers(Role role) {
    return workersFor(role, groups == null ? 0 : groups.replicas(), roleReplicas(role));
  }

  /** Workers of a role when there are {@code groupCount} groups (replica) or the role has n. */
  public int workersFor(Role role, int groupCount, int poolReplicas) {
    RoleSpec spec = roles.get(role);
    if (spec == null) {
      return 0;
    }
    if (mode == Mode.REPLICA && role != Role.BOTH) {
      return groupCount * spec.replicas();
    }
    return poolReplicas;
  }

  private int roleReplicas(Role role) {
    RoleSpec spec = roles.get(role);
    return spec == null ? 0 : spec.replicas();
  }

  /** Roles scaled on their own (pool roles, and {@code both} in replica mode). */
  public List<Role> independentlyScaledRoles() {
    List<Role> result = new ArrayList<>();
    for (Role role : roles.keySet()) {
      if (mode == Mode.POOL || role == Role.BOTH) {
        result.add(role);
      }
    }
    return result;
  }

  /**
   * Settings handed to every Baton worker. {@code kvEvents}: each publishes its KV events (vLLM's
   * shape, {@code --kv-events-config} with ports it picks on the cluster host, and a replay
   * socket); the gateway learns where from the worker and routes on them.
   */
  public record EngineSettings(List<String> args, Map<String, String> env, boolean kvEvents) {
    public EngineSettings {
      args = List.copyOf(args);
      env = Map.copyOf(env);
    }

    public EngineSettings(List<String> args, Map<String, String> env) {
      this(args, env, false);
    }
  }

  /**
   * The KV connector the workers use; {@code connector} {@code none} turns transfer off (then there
   * may be no prefill role). {@code config} holds extra keys merged into the JSON of {@code
   * --kv-transfer-config}.
   */
  public record KvTransferSpec(String connector, Map<String, Object> config, KvCacheSpec cache) {
    public KvTransferSpec {
      config = Collections.unmodifiableMap(new java.util.LinkedHashMap<>(config));
    }

    /** Without a shared KV cache server. */
    public KvTransferSpec(String connector, Map<String, Object> config) {
      this(connector, config, null);
    }

    public boolean enabled() {
      return !"none".equals(connector);
    }
  }

  /**
   * The shared KV cache's Redis server ({@code kvTransfer.cache}): {@code redis: local} makes
   * {@code baton up} start and supervise a loopback {@code redis-server} (on {@code port}, or a
   * free one; no persistence unless {@code persist}); {@code redis: redis://host:port/db} uses an
   * external server. Its URL goes into every offload connector's {@code l2_url} that sets none.
   */
  public record KvCacheSpec(String redis, Integer port, boolean persist) {
    public boolean local() {
      return "local".equals(redis);
    }

    /** The URL workers use; for a local server, on {@code localPort}. */
    public String url(int localPort) {
      return local() ? "redis://127.0.0.1:" + localPort + "/0" : redis;
    }

    /** The same with the local server's port fixed (chosen at start). */
    public KvCacheSpec withPort(int chosen) {
      return new KvCacheSpec(redis, chosen, persist);
    }
  }

  /** A copy with another kvTransfer section. */
  public ClusterSpec withKvTransfer(KvTransferSpec next) {
    return new ClusterSpec(
        name,
        model,
        mode,
        host,
        engine,
        next,
        gateway,
        groups,
        roles,
        autoscaler,
        supervision,
        cpuPinning);
  }

  /**
   * The gateway: a fixed port or {@code null} for a free one, the P/D pool's routing policy, extra
   * top-level settings for its config file ({@code config}) and for the P/D pool ({@code pool},
   * e.g. disaggregation_threshold), extra flags, and an optional command template.
   */
  public record GatewaySpec(
      Integer port,
      String policy,
      Map<String, Object> config,
      Map<String, Object> pool,
      List<String> args,
      List<String> command) {
    public GatewaySpec {
      config = Collections.unmodifiableMap(new java.util.LinkedHashMap<>(config));
      pool = Collections.unmodifiableMap(new java.util.LinkedHashMap<>(pool));
      args = List.copyOf(args);
      command = command == null ? null : List.copyOf(command);
    }
  }

  /** Replica mode's unit of scale: how many xPyD groups, their bounds, and autoscaling targets. */
  public record GroupsSpec(int replicas, int min, int max, AutoscaleTargets autoscale) {}

  /**
   * One role: its count (per group in replica mode), bounds, fixed base port, extra engine flags
   * and environment, engine type, and an optional command template for an external engine.
   */
  public record RoleSpec(
      int replicas,
      int min,
      int max,
      Integer port,
      List<String> args,
      Map<String, String> env,
      EngineType engine,
      List<String> command,
      AutoscaleTargets autoscale) {
    public RoleSpec {
      args = List.copyOf(args);
      env = Map.copyOf(env);
      command = command == null ? null : List.copyOf(command);
    }
  }

  /**
   * Autoscaling targets; each present target is one signal and the scaler follows the most loaded
   * one. Waiting and concurrency are per worker (or per group); KV usage is a fraction 0..1.
   */
  public record AutoscaleTargets(
      Double waitingPerReplica,
      Double concurrencyPerReplica,
      Double kvUsage,
      Double ttftP90Ms,
      Double itlP90Ms) {

    public boolean any() {
      return waitingPerReplica != null
          || concurrencyPerReplica != null
          || kvUsage != null
          || ttftP90Ms != null
          || itlP90Ms != null;
    }
  }

  /**
   * Tuning shared by every autoscaled role: windows, panic threshold, cool-downs, tolerance, and
   * the prefill:decode ratio the pools keep ({@code null}: they scale independently).
   */
  public record AutoscalerSettings(
      double intervalSeconds,
      double stableWindowSeconds,
      double panicWindowSeconds,
      double panicThreshold,
      double scaleUpCooldownSeconds,
      double scaleDownCooldownSeconds,
      double tolerance,
      PdRatioSpec pdRatio) {

    /** Without a prefill:decode ratio. */
    public AutoscalerSettings(
        double intervalSeconds,
        double stableWindowSeconds,
        double panicWindowSeconds,
        double panicThreshold,
        double scaleUpCooldownSeconds,
        double scaleDownCooldownSeconds,
        double tolerance) {
      this(
          intervalSeconds,
          stableWindowSeconds,
          panicWindowSeconds,
          panicThreshold,
          scaleUpCooldownSeconds,
          scaleDownCooldownSeconds,
          tolerance,
          null);
    }

    public static AutoscalerSettings defaults() {
      return new AutoscalerSettings(2, 60, 6, 2.0, 0, 30, 0.1);
    }
  }

  /**
   * {@code autoscaler.pdRatio}: the prefill:decode worker ratio pool mode keeps when it scales
   * (docs/CLUSTER_SPEC.md). Either fixed ({@code target}: prefill workers per decode worker, 0.5 is
   * 1P:2D) or derived ({@code stepModel}: the step-time file {@code baton sim calibrate} writes,
   * combined with the prompt and output lengths the workers observe; {@code batch}: the decode
   * batch that sizing assumes, default the file's {@code maxBatch}).
   */
  public record PdRatioSpec(Double target, String stepModel, Integer batch) {}

  /** How the supervisor watches workers: health-check cadence, restarts, timeouts. */
  public record SupervisionSettings(
      double healthIntervalSeconds,
      int failureThreshold,
      double restartBackoffSeconds,
      double maxRestartBackoffSeconds,
      double readyTimeoutSeconds,
      double drainTimeoutSeconds) {

    public static SupervisionSettings defaults() {
      return new SupervisionSettings(1, 3, 1, 30, 120, 60);
    }
  }
}
