package dev.baton.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.ClusterSpec.AutoscalerSettings;
import dev.baton.control.ClusterSpec.EngineSettings;
import dev.baton.control.ClusterSpec.GatewaySpec;
import dev.baton.control.ClusterSpec.GroupsSpec;
import dev.baton.control.ClusterSpec.KvTransferSpec;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.ClusterSpec.SupervisionSettings;
import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One reader per section of the cluster spec, on the shared {@link ConfigNode} (collecting every
 * problem with its key path). {@link SpecParser} puts the sections together and checks the rules
 * that span several of them.
 */
final class SpecSections {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  /** Upper bound on replicas when the spec sets no max; keeps fixed port ranges finite. */
  static final int DEFAULT_MAX = 8;

  private SpecSections() {}

  static EngineSettings engine(ConfigNode n) {
    n.only("args", "env", "kvEvents");
    return new EngineSettings(flags(n, "args"), n.stringMap("env"), n.bool("kvEvents", false));
  }

  static KvTransferSpec kvTransfer(ConfigNode n) {
    n.only("connector", "config", "cache");
    String connector = n.text("connector", "P2pConnector");
    ConfigNode config = n.child("config");
    for (String reserved : List.of("kv_connector", "kv_role")) {
      if (config.has(reserved)) {
        n.problem(
            config.key(reserved)
                + ": set by the control plane (connector from kvTransfer.connector, role from"
                + " the worker's role)");
      }
    }
    return new KvTransferSpec(connector, freeMap(config), kvCache(n.child("cache")));
  }

  private static ClusterSpec.KvCacheSpec kvCache(ConfigNode n) {
    if (n.absent()) {
      return null;
    }
    n.only("redis", "port", "persist");
    String redis = n.text("redis", null);
    if (redis == null
        || !redis.equals("local")
            && !redis.startsWith("redis://")
            && !redis.startsWith("rediss://")) {
      n.problem(
          n.key("redis")
              + ": 'local' (baton up starts a redis-server) or a redis:// URL, got "
              + redis);
      return null;
    }
    Integer port = n.has("port") ? n.port("port", 0) : null;
    boolean persist = n.bool("persist", false);
    if (!redis.equals("local") && (port != null || persist)) {
      n.problem(n.key("redis") + ": port and persist apply to a local server only");
    }
    return new ClusterSpec.KvCacheSpec(redis, port, persist);
  }

  static GatewaySpec gateway(ConfigNode n) {
    n.only("port", "policy", "config", "pool", "args", "command");
    Map<String, Object> config = freeMap(n.child("config"));
    for (String reserved : List.of("host", "port", "admin_token", "pools")) {
      if (config.containsKey(reserved)) {
        n.problem("gateway.config." + reserved + ": set by the control plane");
      }
    }
    Map<String, Object> pool = freeMap(n.child("pool"));
    for (String reserved : List.of("name", "mode", "workers", "models")) {
      if (pool.containsKey(reserved)) {
        n.problem("gateway.pool." + reserved + ": set by the control plane");
      }
    }
    return new GatewaySpec(
        port(n, "port"),
        n.text("policy", null),
        config,
        pool,
        flags(n, "args"),
        command(n, "command"));
  }

  /**
   * @param pinning cpuPinning is on: a pool role's max defaults to its replicas, since the cores
   *     are divided by the most workers the spec can run
   */
  static Map<Role, RoleSpec> roles(ConfigNode n, Mode mode, boolean pinning) {
    Map<Role, RoleSpec> roles = new EnumMap<>(Role.class);
    if (n.absent()) {
      n.problem("roles: required (at least decode or both, e.g. roles: {decode: {replicas: 1}})");
    }
    for (String name : n.fieldNames()) {
      Role role;
      try {
        role = Role.parse(name);
      } catch (IllegalArgumentException e) {
        n.problem(n.key(name) + ": " + e.getMessage());
        continue;
      }
      roles.put(role, role(n.child(name), role, mode, pinning));
    }
    return roles;
  }

  private static RoleSpec role(ConfigNode n, Role role, Mode mode, boolean pinning) {
    n.only("replicas", "min", "max", "port", "args", "env", "engine", "command", "autoscale");
    boolean perGroup = mode == Mode.REPLICA && role != Role.BOTH;
    int replicas = n.integer("replicas", 1);
    int min;
    int max;
    if (perGroup) {
      for (String key : List.of("min", "max", "autoscale")) {
        if (n.has(key)) {
          n.problem(
              n.key(key)
                  + ": in replica mode "
                  + role.wireName()
                  + " scales with its group; set groups."
                  + key
                  + " instead");
        }
      }
      if (replicas < 1) {
        n.problem(n.key("replicas") + ": a group needs at least 1 " + role.wireName() + " worker");
      }
      min = replicas;
      max = replicas;
    } else {
      min = n.integer("min", Math.min(replicas, 1));
      max = n.integer("max", pinning ? replicas : Math.max(replicas, DEFAULT_MAX));
      checkCounts(n, replicas, min, max);
    }
    EngineType engine = EngineType.BATON;
    try {
      engine = EngineType.parse(n.text("engine", "baton"));
    } catch (IllegalArgumentException e) {
      n.problem(n.key("engine") + ": " + e.getMessage());
    }
    List<String> command = command(n, "command");
    if (engine != EngineType.BATON && command == null) {
      n.problem(
          n.key("command")
              + ": an external engine ("
              + engine.wireName()
              + ") needs a command template, e.g. [vllm, serve, '{model}', --port, '{port}']");
    }
    AutoscaleTargets autoscale =
        perGroup || !n.has("autoscale") ? null : targets(n.child("autoscale"));
    return new RoleSpec(
        replicas,
        min,
        max,
        port(n, "port"),
        flags(n, "args"),
        n.stringMap("env"),
        engine,
        command,
        autoscale);
  }

  /** {@code groups}: a count or a mapping with bounds and autoscaling (replica mode only). */
  static GroupsSpec groups(ConfigNode parent, Mode mode, boolean pinning) {
    JsonNode raw = parent.value("groups");
    if (mode != Mode.REPLICA) {
      if (raw != null) {
        parent.problem("groups: only used in replica mode (mode: replica)");
      }
      return null;
    }
    if (raw == null) {
      return new GroupsSpec(1, 1, pinning ? 1 : DEFAULT_MAX, null);
    }
    if (raw.isInt()) {
      int n = raw.intValue();
      int min = Math.min(n, 1);
      int max = pinning ? n : Math.max(n, DEFAULT_MAX);
      checkCounts(parent, n, min, max, "groups.");
      return new GroupsSpec(n, min, max, null);
    }
    ConfigNode n = parent.child("groups");
    n.only("replicas", "min", "max", "autoscale");
    int replicas = n.integer("replicas", 1);
    int min = n.integer("min", Math.min(replicas, 1));
    int max = n.integer("max", pinning ? replicas : Math.max(replicas, DEFAULT_MAX));
    checkCounts(n, replicas, min, max);
    return new GroupsSpec(
        replicas, min, max, n.has("autoscale") ? targets(n.child("autoscale")) : null);
  }

  private static AutoscaleTargets targets(ConfigNode n) {
    n.only("waitingPerReplica", "concurrencyPerReplica", "kvUsage", "ttftP90Ms", "itlP90Ms");
    AutoscaleTargets targets =
        new AutoscaleTargets(
            n.positiveDecimal("waitingPerReplica"),
            n.positiveDecimal("concurrencyPerReplica"),
            n.positiveDecimal("kvUsage"),
            n.positiveDecimal("ttftP90Ms"),
            n.positiveDecimal("itlP90Ms"));
    if (targets.kvUsage() != null && targets.kvUsage() > 1) {
      n.problem(n.key("kvUsage") + ": a fraction of the KV pool, between 0 and 1");
    }
    if (n.present() && !targets.any()) {
      n.problem(
          n.path()
              + ": set at least one target (waitingPerReplica, concurrencyPerReplica,"
              + " kvUsage, ttftP90Ms, itlP90Ms)");
    }
    return targets;
  }

  static AutoscalerSettings autoscaler(ConfigNode n) {
    AutoscalerSettings d = AutoscalerSettings.defaults();
    n.only(
        "intervalSeconds",
        "stableWindowSeconds",
        "panicWindowSeconds",
        "panicThreshold",
        "scaleUpCooldownSeconds",
        "scaleDownCooldownSeconds",
        "tolerance",
        "pdRatio");
    AutoscalerSettings s =
        new AutoscalerSettings(
            n.nonNegativeDecimal("intervalSeconds", d.intervalSeconds()),
            n.nonNegativeDecimal("stableWindowSeconds", d.stableWindowSeconds()),
            n.nonNegativeDecimal("panicWindowSeconds", d.panicWindowSeconds()),
            n.nonNegativeDecimal("panicThreshold", d.panicThreshold()),
            n.nonNegativeDecimal("scaleUpCooldownSeconds", d.scaleUpCooldownSeconds()),
            n.nonNegativeDecimal("scaleDownCooldownSeconds", d.scaleDownCooldownSeconds()),
            n.nonNegativeDecimal("tolerance", d.tolerance()),
            pdRatio(n.child("pdRatio")));
    if (s.intervalSeconds() <= 0) {
      n.problem(n.key("intervalSeconds") + ": must be > 0");
    }
    if (s.panicWindowSeconds() > s.stableWindowSeconds()) {
      n.problem(n.key("panicWindowSeconds") + ": must not be longer than stableWindowSeconds");
    }
    if (s.panicThreshold() <= 1) {
      n.problem(n.key("panicThreshold") + ": must be > 1 (a factor over the current count)");
    }
    if (s.tolerance() >= 1) {
      n.problem(n.key("tolerance") + ": must be below 1");
    }
    return s;
  }

  /** {@code autoscaler.pdRatio}: a fixed {@code target}, or a {@code stepModel} to derive it. */
  private static ClusterSpec.PdRatioSpec pdRatio(ConfigNode n) {
    if (n.absent()) {
      return null;
    }
    n.only("target", "stepModel", "batch");
    Double target = n.positiveDecimal("target");
    String stepModel = n.text("stepModel", null);
    Integer batch = n.has("batch") ? n.integer("batch", 1) : null;
    if ((target == null) == (stepModel == null)) {
      n.problem(
          n.path()
              + ": set either target (prefill workers per decode worker, 0.5 is 1P:2D) or"
              + " stepModel (a baton sim calibrate file, to derive it from observed lengths)");
    }
    if (batch != null && (batch < 1 || target != null)) {
      n.problem(n.key("batch") + ": a decode batch >= 1, only with stepModel");
    }
    if (stepModel != null && stepModel.isBlank()) {
      n.problem(n.key("stepModel") + ": must not be empty");
    }
    return new ClusterSpec.PdRatioSpec(target, stepModel, batch);
  }

  static SupervisionSettings supervision(ConfigNode n) {
    SupervisionSettings d = SupervisionSettings.defaults();
    n.only(
        "healthIntervalSeconds",
        "failureThreshold",
        "restartBackoffSeconds",
        "maxRestartBackoffSeconds",
        "readyTimeoutSeconds",
        "drainTimeoutSeconds");
    SupervisionSettings s =
        new SupervisionSettings(
            n.nonNegativeDecimal("healthIntervalSeconds", d.healthIntervalSeconds()),
            n.integer("failureThreshold", d.failureThreshold()),
            n.nonNegativeDecimal("restartBackoffSeconds", d.restartBackoffSeconds()),
            n.nonNegativeDecimal("maxRestartBackoffSeconds", d.maxRestartBackoffSeconds()),
            n.nonNegativeDecimal("readyTimeoutSeconds", d.readyTimeoutSeconds()),
            n.nonNegativeDecimal("drainTimeoutSeconds", d.drainTimeoutSeconds()));
    if (s.healthIntervalSeconds() <= 0) {
      n.problem(n.key("healthIntervalSeconds") + ": must be > 0");
    }
    if (s.failureThreshold() < 1) {
      n.problem(n.key("failureThreshold") + ": must be >= 1");
    }
    if (s.readyTimeoutSeconds() <= 0) {
      n.problem(n.key("readyTimeoutSeconds") + ": must be > 0");
    }
    return s;
  }

  // ---- value shapes the spec shares ----

  private static void checkCounts(ConfigNode n, int replicas, int min, int max) {
    checkCounts(n, replicas, min, max, n.path() + ".");
  }

  private static void checkCounts(ConfigNode n, int replicas, int min, int max, String path) {
    if (replicas < 0) {
      n.problem(path + "replicas: must be >= 0, got " + replicas);
    }
    if (min < 0) {
      n.problem(path + "min: must be >= 0, got " + min);
    }
    if (min > max) {
      n.problem(path + "min: " + min + " is greater than max " + max);
    } else if (replicas < min || replicas > max) {
      n.problem(path + "replicas: " + replicas + " is outside min..max (" + min + ".." + max + ")");
    }
  }

  /** A fixed port, or null for "pick a free one" (absent or 0). */
  private static Integer port(ConfigNode n, String name) {
    int port = n.port(name, 0);
    return port == 0 ? null : port;
  }

  /** Extra flags: a list of texts, or one text split like a shell would. */
  private static List<String> flags(ConfigNode n, String name) {
    JsonNode raw = n.value(name);
    if (raw != null && raw.isTextual()) {
      try {
        return CommandTemplate.split(raw.asText());
      } catch (IllegalArgumentException e) {
        n.problem(n.key(name) + ": " + e.getMessage());
        return List.of();
      }
    }
    if (raw != null && !raw.isArray()) {
      n.problem(n.key(name) + ": must be a list of flags, got " + ConfigNode.describe(raw));
      return List.of();
    }
    return new ArrayList<>(n.strings(name));
  }

  /** A command template (list or text) whose placeholders are known; null when absent. */
  private static List<String> command(ConfigNode n, String name) {
    if (!n.has(name)) {
      return null;
    }
    List<String> command = flags(n, name);
    if (command.isEmpty()) {
      n.problem(n.key(name) + ": must not be empty");
      return null;
    }
    try {
      CommandTemplate.checkPlaceholders(command);
    } catch (IllegalArgumentException e) {
      n.problem(n.key(name) + ": " + e.getMessage());
    }
    return command;
  }

  /** A mapping passed on as it is (engine or gateway config the control plane does not read). */
  private static Map<String, Object> freeMap(ConfigNode n) {
    Map<String, Object> out = new LinkedHashMap<>();
    JsonNode raw = n.raw();
    if (raw != null) {
      for (Map.Entry<String, JsonNode> field : raw.properties()) {
        out.put(field.getKey(), YAML.convertValue(field.getValue(), Object.class));
      }
    }
    return out;
  }
}
