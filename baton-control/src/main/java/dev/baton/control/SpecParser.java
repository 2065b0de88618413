package dev.baton.control;

import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a cluster spec from YAML and validates all of it before anything starts: unknown keys,
 * wrong types, impossible counts and port clashes are reported together, each with its path in the
 * spec ({@code roles.decode.max}).
 */
public final class SpecParser {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Set<String> RANDOM_PRESETS = Set.of("tiny", "small", "1b");
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?");

  /** Upper bound on replicas when the spec sets no max; keeps fixed port ranges finite. */
  static final int DEFAULT_MAX = 8;

  private final List<String> problems = new ArrayList<>();

  private SpecParser() {}

  /** Parses a spec file; the file name appears in error messages. */
  public static ClusterSpec parse(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new SpecException(file.toString(), List.of("file not found"));
    }
    return parse(Files.readString(file), file.toString());
  }

  /** Parses spec text; {@code source} names it in error messages. */
  public static ClusterSpec parse(String yaml, String source) {
    JsonNode root;
    try {
      root = YAML.readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new SpecException(source, List.of("not valid YAML: " + e.getOriginalMessage()));
    }
    SpecParser parser = new SpecParser();
    ClusterSpec spec = parser.read(root);
    if (!parser.problems.isEmpty()) {
      throw new SpecException(source, parser.problems);
    }
    return spec;
  }

  /** Checks a cluster name (run directory, process labels): lower-case letters, digits, dashes. */
  public static String checkName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "invalid cluster name '"
              + name
              + "': use 1-40 lower-case letters, digits and dashes, starting and ending with a"
              + " letter or digit");
    }
    return name;
  }

  private ClusterSpec read(JsonNode root) {
    if (root == null || root.isMissingNode() || root.isNull()) {
      problems.add("the spec is empty (it needs at least model, mode and roles)");
      return null;
    }
    if (!root.isObject()) {
      problems.add("the spec must be a mapping of keys (model, mode, gateway, roles, ...)");
      return null;
    }
    allowOnly(
        root,
        "",
        "name",
        "model",
        "mode",
        "host",
        "engine",
        "kvTransfer",
        "gateway",
        "groups",
        "roles",
        "autoscaler",
        "supervision");

    String name = string(root, "name", null);
    if (name != null) {
      try {
        checkName(name);
      } catch (IllegalArgumentException e) {
        problems.add("name: " + e.getMessage());
      }
    }
    String model = string(root, "model", null);
    if (model == null) {
      problems.add("model: required (a GGUF file path, or random:tiny|small|1b)");
      model = "";
    } else if (model.startsWith(ClusterSpec.RANDOM_MODEL_PREFIX)) {
      String preset = model.substring(ClusterSpec.RANDOM_MODEL_PREFIX.length());
      if (!RANDOM_PRESETS.contains(preset)) {
        problems.add("model: unknown random preset '" + preset + "' (expected tiny, small or 1b)");
      }
    } else if (model.isBlank()) {
      problems.add("model: must not be empty");
    }

    Mode mode = Mode.POOL;
    String modeText = string(root, "mode", "pool");
    if ("replica".equals(modeText)) {
      mode = Mode.REPLICA;
    } else if (!"pool".equals(modeText)) {
      problems.add("mode: '" + modeText + "' is not a mode (expected pool or replica)");
    }
    String host = string(root, "host", "127.0.0.1");

    EngineSettings engine = readEngine(root.get("engine"));
    KvTransferSpec kv = readKv(root.get("kvTransfer"));
    GatewaySpec gateway = readGateway(root.get("gateway"));
    Map<Role, RoleSpec> roles = readRoles(root.get("roles"), mode);
    GroupsSpec groups = readGroups(root.get("groups"), mode);
    AutoscalerSettings autoscaler = readAutoscaler(root.get("autoscaler"));
    SupervisionSettings supervision = readSupervision(root.get("supervision"));

    ClusterSpec spec =
        new ClusterSpec(
            name, model, mode, host, engine, kv, gateway, groups, roles, autoscaler, supervision);
    if (problems.isEmpty()) {
      checkTopology(spec);
      checkPorts(spec);
    }
    return spec;
  }

  private EngineSettings readEngine(JsonNode node) {
    if (node == null) {
      return new EngineSettings(List.of(), Map.of());
    }
    if (!isObject(node, "engine")) {
      return new EngineSettings(List.of(), Map.of());
    }
    allowOnly(node, "engine.", "args", "env");
    return new EngineSettings(
        stringList(node, "args", "engine.args"), stringMap(node, "env", "engine.env"));
  }

  private KvTransferSpec readKv(JsonNode node) {
    if (node == null || !isObject(node, "kvTransfer")) {
      return new KvTransferSpec("P2pConnector", Map.of());
    }
    allowOnly(node, "kvTransfer.", "connector", "config");
    String connector = string(node, "connector", "P2pConnector", "kvTransfer.connector");
    Map<String, Object> config = new LinkedHashMap<>();
    JsonNode configNode = node.get("config");
    if (configNode != null && isObject(configNode, "kvTransfer.config")) {
      for (Map.Entry<String, JsonNode> field : configNode.properties()) {
        if (field.getKey().equals("kv_connector") || field.getKey().equals("kv_role")) {
          problems.add(
              "kvTransfer.config."
                  + field.getKey()
                  + ": set by the control plane (connector from kvTransfer.connector, role from"
                  + " the worker's role)");
        }
        config.put(field.getKey(), YAML.convertValue(field.getValue(), Object.class));
      }
    }
    return new KvTransferSpec(connector, config);
  }

  private GatewaySpec readGateway(JsonNode node) {
    if (node == null || !isObject(node, "gateway")) {
      return new GatewaySpec(null, null, Map.of(), Map.of(), List.of(), null);
    }
    allowOnly(node, "gateway.", "port", "policy", "config", "pool", "args", "command");
    Integer port = port(node, "port", "gateway.port");
    String policy = string(node, "policy", null, "gateway.policy");
    Map<String, Object> config = freeMap(node, "config", "gateway.config");
    for (String reserved : List.of("host", "port", "admin_token", "pools")) {
      if (config.containsKey(reserved)) {
        problems.add("gateway.config." + reserved + ": set by the control plane");
      }
    }
    Map<String, Object> pool = freeMap(node, "pool", "gateway.pool");
    for (String reserved : List.of("name", "mode", "workers", "models")) {
      if (pool.containsKey(reserved)) {
        problems.add("gateway.pool." + reserved + ": set by the control plane");
      }
    }
    return new GatewaySpec(
        port,
        policy,
        config,
        pool,
        stringList(node, "args", "gateway.args"),
        command(node, "gateway.command"));
  }

  private Map<Role, RoleSpec> readRoles(JsonNode node, Mode mode) {
    Map<Role, RoleSpec> roles = new EnumMap<>(Role.class);
    if (node == null) {
      problems.add(
          "roles: required (at least decode or both, e.g. roles: {decode: {replicas: 1}})");
      return roles;
    }
    if (!isObject(node, "roles")) {
      return roles;
    }
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      Role role;
      try {
        role = Role.parse(entry.getKey());
      } catch (IllegalArgumentException e) {
        problems.add("roles." + entry.getKey() + ": " + e.getMessage());
        continue;
      }
      RoleSpec spec = readRole(entry.getValue(), "roles." + entry.getKey() + ".", role, mode);
      if (spec != null) {
        roles.put(role, spec);
      }
    }
    return roles;
  }

  private RoleSpec readRole(JsonNode node, String path, Role role, Mode mode) {
    if (node == null || node.isNull()) {
      node = YAML.createObjectNode();
    }
    if (!isObject(node, path.substring(0, path.length() - 1))) {
      return null;
    }
    allowOnly(
        node,
        path,
        "replicas",
        "min",
        "max",
        "port",
        "args",
        "env",
        "engine",
        "command",
        "autoscale");
    boolean perGroup = mode == Mode.REPLICA && role != Role.BOTH;
    int replicas = integer(node, "replicas", 1, path + "replicas");
    int min;
    int max;
    if (perGroup) {
      for (String key : List.of("min", "max", "autoscale")) {
        if (node.has(key)) {
          problems.add(
              path
                  + key
                  + ": in replica mode "
                  + role.wireName()
                  + " scales with its group; set groups."
                  + key
                  + " instead");
        }
      }
      if (replicas < 1) {
        problems.add(path + "replicas: a group needs at least 1 " + role.wireName() + " worker");
      }
      min = replicas;
      max = replicas;
    } else {
      min = integer(node, "min", Math.min(replicas, 1), path + "min");
      max = integer(node, "max", Math.max(replicas, DEFAULT_MAX), path + "max");
      checkCounts(path, replicas, min, max);
    }
    EngineType engine = EngineType.BATON;
    String engineText = string(node, "engine", "baton", path + "engine");
    try {
      engine = EngineType.parse(engineText);
    } catch (IllegalArgumentException e) {
      problems.add(path + "engine: " + e.getMessage());
    }
    List<String> command = command(node, path + "command");
    if (engine != EngineType.BATON && command == null) {
      problems.add(
          path
              + "command: an external engine ("
              + engine.wireName()
              + ") needs a command template, e.g. [vllm, serve, '{model}', --port, '{port}']");
    }
    AutoscaleTargets autoscale = perGroup ? null : readTargets(node.get("autoscale"), path);
    return new RoleSpec(
        replicas,
        min,
        max,
        port(node, "port", path + "port"),
        stringList(node, "args", path + "args"),
        stringMap(node, "env", path + "env"),
        engine,
        command,
        autoscale);
  }

  private GroupsSpec readGroups(JsonNode node, Mode mode) {
    if (mode != Mode.REPLICA) {
      if (node != null) {
        problems.add("groups: only used in replica mode (mode: replica)");
      }
      return null;
    }
    if (node == null) {
      return new GroupsSpec(1, 1, DEFAULT_MAX, null);
    }
    if (node.isInt()) {
      int n = node.intValue();
      checkCounts("groups.", n, Math.min(n, 1), Math.max(n, DEFAULT_MAX));
      return new GroupsSpec(n, Math.min(n, 1), Math.max(n, DEFAULT_MAX), null);
    }
    if (!isObject(node, "groups")) {
      return new GroupsSpec(1, 1, DEFAULT_MAX, null);
    }
    allowOnly(node, "groups.", "replicas", "min", "max", "autoscale");
    int replicas = integer(node, "replicas", 1, "groups.replicas");
    int min = integer(node, "min", Math.min(replicas, 1), "groups.min");
    int max = integer(node, "max", Math.max(replicas, DEFAULT_MAX), "groups.max");
    checkCounts("groups.", replicas, min, max);
    return new GroupsSpec(replicas, min, max, readTargets(node.get("autoscale"), "groups."));
  }

  private AutoscaleTargets readTargets(JsonNode node, String parent) {
    if (node == null) {
      return null;
    }
    String path = parent + "autoscale.";
    if (!isObject(node, parent + "autoscale")) {
      return null;
    }
    allowOnly(
        node,
        path,
        "waitingPerReplica",
        "concurrencyPerReplica",
        "kvUsage",
        "ttftP90Ms",
        "itlP90Ms");
    AutoscaleTargets targets =
        new AutoscaleTargets(
            positive(node, "waitingPerReplica", path),
            positive(node, "concurrencyPerReplica", path),
            positive(node, "kvUsage", path),
            positive(node, "ttftP90Ms", path),
            positive(node, "itlP90Ms", path));
    if (targets.kvUsage() != null && targets.kvUsage() > 1) {
      problems.add(path + "kvUsage: a fraction of the KV pool, between 0 and 1");
    }
    if (!targets.any()) {
      problems.add(
          parent
              + "autoscale: set at least one target (waitingPerReplica, concurrencyPerReplica,"
              + " kvUsage, ttftP90Ms, itlP90Ms)");
    }
    return targets;
  }

  private AutoscalerSettings readAutoscaler(JsonNode node) {
    AutoscalerSettings d = AutoscalerSettings.defaults();
    if (node == null || !isObject(node, "autoscaler")) {
      return d;
    }
    String p = "autoscaler.";
    allowOnly(
        node,
        p,
        "intervalSeconds",
        "stableWindowSeconds",
        "panicWindowSeconds",
        "panicThreshold",
        "scaleUpCooldownSeconds",
        "scaleDownCooldownSeconds",
        "tolerance");
    AutoscalerSettings s =
        new AutoscalerSettings(
            number(node, "intervalSeconds", d.intervalSeconds(), p),
            number(node, "stableWindowSeconds", d.stableWindowSeconds(), p),
            number(node, "panicWindowSeconds", d.panicWindowSeconds(), p),
            number(node, "panicThreshold", d.panicThreshold(), p),
            number(node, "scaleUpCooldownSeconds", d.scaleUpCooldownSeconds(), p),
            number(node, "scaleDownCooldownSeconds", d.scaleDownCooldownSeconds(), p),
            number(node, "tolerance", d.tolerance(), p));
    if (s.intervalSeconds() <= 0) {
      problems.add(p + "intervalSeconds: must be > 0");
    }
    if (s.panicWindowSeconds() > s.stableWindowSeconds()) {
      problems.add(p + "panicWindowSeconds: must not be longer than stableWindowSeconds");
    }
    if (s.panicThreshold() <= 1) {
      problems.add(p + "panicThreshold: must be > 1 (a factor over the current count)");
    }
    if (s.tolerance() >= 1) {
      problems.add(p + "tolerance: must be below 1");
    }
    return s;
  }

  private SupervisionSettings readSupervision(JsonNode node) {
    SupervisionSettings d = SupervisionSettings.defaults();
    if (node == null || !isObject(node, "supervision")) {
      return d;
    }
    String p = "supervision.";
    allowOnly(
        node,
        p,
        "healthIntervalSeconds",
        "failureThreshold",
        "restartBackoffSeconds",
        "maxRestartBackoffSeconds",
        "readyTimeoutSeconds",
        "drainTimeoutSeconds");
    SupervisionSettings s =
        new SupervisionSettings(
            number(node, "healthIntervalSeconds", d.healthIntervalSeconds(), p),
            integer(node, "failureThreshold", d.failureThreshold(), p + "failureThreshold"),
            number(node, "restartBackoffSeconds", d.restartBackoffSeconds(), p),
            number(node, "maxRestartBackoffSeconds", d.maxRestartBackoffSeconds(), p),
            number(node, "readyTimeoutSeconds", d.readyTimeoutSeconds(), p),
            number(node, "drainTimeoutSeconds", d.drainTimeoutSeconds(), p));
    if (s.healthIntervalSeconds() <= 0) {
      problems.add(p + "healthIntervalSeconds: must be > 0");
    }
    if (s.failureThreshold() < 1) {
      problems.add(p + "failureThreshold: must be >= 1");
    }
    if (s.readyTimeoutSeconds() <= 0) {
      problems.add(p + "readyTimeoutSeconds: must be > 0");
    }
    return s;
  }

  /** Cross-field rules: a cluster that can never serve a request is rejected. */
  private void checkTopology(ClusterSpec spec) {
    Map<Role, RoleSpec> roles = spec.roles();
    RoleSpec prefill = roles.get(Role.PREFILL);
    RoleSpec decode = roles.get(Role.DECODE);
    RoleSpec both = roles.get(Role.BOTH);
    if (roles.isEmpty()) {
      problems.add("roles: at least one of prefill, decode, both is required");
      return;
    }
    if (spec.mode() == Mode.REPLICA) {
      if (prefill == null || decode == null) {
        problems.add(
            "roles: replica mode needs both prefill and decode (a group is xPyD); use mode: pool"
                + " for a colocated-only cluster");
      }
      int bothMin = both == null ? 0 : both.min();
      if (spec.groups().replicas() < 1 && (both == null || both.replicas() < 1)) {
        problems.add("groups.replicas: 0 groups and no colocated pool: nothing could serve");
      } else if (spec.groups().min() < 1 && bothMin < 1) {
        problems.add(
            "groups.min: must be >= 1 (or keep a colocated pool with both.min >= 1), else"
                + " scaling could leave nothing to serve");
      }
    } else {
      int decodeCapableMin = (decode == null ? 0 : decode.min()) + (both == null ? 0 : both.min());
      int decodeCapableNow =
          (decode == null ? 0 : decode.replicas()) + (both == null ? 0 : both.replicas());
      if (decodeCapableNow < 1) {
        problems.add(
            "roles: no worker can generate tokens: decode.replicas + both.replicas must be >= 1");
      } else if (prefill != null && prefill.max() > 0 && decodeCapableMin < 1) {
        problems.add(
            "roles: prefill workers need a decode worker at all times: set decode.min (or"
                + " both.min) >= 1");
      }
    }
    if (prefill != null && !spec.kvTransfer().enabled()) {
      problems.add(
          "kvTransfer.connector: none turns KV transfer off, so prefill workers could not hand"
              + " their KV to decode; remove roles.prefill or choose a connector");
    }
  }

  /** Fixed ports must be valid and must not overlap (each role uses a range of max ports). */
  private void checkPorts(ClusterSpec spec) {
    record Range(String owner, int first, int last) {}
    List<Range> ranges = new ArrayList<>();
    if (spec.gateway().port() != null) {
      ranges.add(new Range("gateway.port", spec.gateway().port(), spec.gateway().port()));
    }
    for (Map.Entry<Role, RoleSpec> entry : spec.roles().entrySet()) {
      RoleSpec role = entry.getValue();
      if (role.port() == null) {
        continue;
      }
      int maxWorkers =
          spec.mode() == Mode.REPLICA && entry.getKey() != Role.BOTH
              ? spec.groups().max() * role.replicas()
              : role.max();
      int last = role.port() + Math.max(maxWorkers, 1) - 1;
      String owner = "roles." + entry.getKey().wireName() + ".port";
      if (last > 65535) {
        problems.add(
            owner + ": " + role.port() + " plus " + maxWorkers + " workers runs past port 65535");
      }
      ranges.add(new Range(owner, role.port(), last));
    }
    for (int i = 0; i < ranges.size(); i++) {
      for (int j = i + 1; j < ranges.size(); j++) {
        Range a = ranges.get(i);
        Range b = ranges.get(j);
        if (a.first() <= b.last() && b.first() <= a.last()) {
          problems.add(
              "port clash: "
                  + describe(a.owner(), a.first(), a.last())
                  + " overlaps "
                  + describe(b.owner(), b.first(), b.last()));
        }
      }
    }
  }

  private static String describe(String owner, int first, int last) {
    return first == last ? owner + " " + first : owner + " " + first + "-" + last;
  }

  private void checkCounts(String path, int replicas, int min, int max) {
    if (replicas < 0) {
      problems.add(path + "replicas: must be >= 0, got " + replicas);
    }
    if (min < 0) {
      problems.add(path + "min: must be >= 0, got " + min);
    }
    if (min > max) {
      problems.add(path + "min: " + min + " is greater than max " + max);
    } else if (replicas < min || replicas > max) {
      problems.add(
          path + "replicas: " + replicas + " is outside min..max (" + min + ".." + max + ")");
    }
  }

  // ---- typed field readers: each records a problem and returns a default on bad input ----

  private void allowOnly(JsonNode node, String path, String... allowed) {
    Set<String> keys = Set.of(allowed);
    for (String key : iterable(node)) {
      if (!keys.contains(key)) {
        problems.add(
            "unknown key '"
                + path
                + key
                + "'"
                + suggestion(key, allowed)
                + " (allowed here: "
                + String.join(", ", allowed)
                + ")");
      }
    }
  }

  private static Iterable<String> iterable(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  /** "did you mean" for a near-miss key (case or one or two edits away). */
  private static String suggestion(String key, String[] allowed) {
    for (String candidate : allowed) {
      if (candidate.equalsIgnoreCase(key) || editDistance(candidate, key) <= 2) {
        return " - did you mean '" + candidate + "'?";
      }
    }
    return "";
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  private boolean isObject(JsonNode node, String path) {
    if (!node.isObject()) {
      problems.add(path + ": must be a mapping, got " + kind(node));
      return false;
    }
    return true;
  }

  private static String kind(JsonNode node) {
    return switch (node.getNodeType()) {
      case ARRAY -> "a list";
      case OBJECT -> "a mapping";
      case STRING -> "the text '" + node.asText() + "'";
      case NUMBER -> "the number " + node.asText();
      case BOOLEAN -> node.asText();
      case NULL -> "nothing";
      default -> node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    };
  }

  private String string(JsonNode parent, String key, String fallback) {
    return string(parent, key, fallback, key);
  }

  private String string(JsonNode parent, String key, String fallback, String path) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isTextual() && !node.isNumber()) {
      problems.add(path + ": must be text, got " + kind(node));
      return fallback;
    }
    return node.asText();
  }

  private int integer(JsonNode parent, String key, int fallback, String path) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isIntegralNumber() || !node.canConvertToInt()) {
      problems.add(path + ": must be a whole number, got " + kind(node));
      return fallback;
    }
    return node.intValue();
  }

  private double number(JsonNode parent, String key, double fallback, String parentPath) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isNumber()) {
      problems.add(parentPath + key + ": must be a number, got " + kind(node));
      return fallback;
    }
    double value = node.doubleValue();
    if (value < 0 || Double.isNaN(value)) {
      problems.add(parentPath + key + ": must be >= 0, got " + node.asText());
      return fallback;
    }
    return value;
  }

  private Double positive(JsonNode parent, String key, String parentPath) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isNumber() || node.doubleValue() <= 0) {
      problems.add(parentPath + key + ": must be a number > 0, got " + kind(node));
      return null;
    }
    return node.doubleValue();
  }

  private Integer port(JsonNode parent, String key, String path) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isIntegralNumber() || node.intValue() < 0 || node.intValue() > 65535) {
      problems.add(
          path + ": must be a port number 1-65535 (or 0 for a free port), got " + kind(node));
      return null;
    }
    return node.intValue() == 0 ? null : node.intValue();
  }

  private List<String> stringList(JsonNode parent, String key, String path) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return List.of();
    }
    if (node.isTextual()) {
      try {
        return CommandTemplate.split(node.asText());
      } catch (IllegalArgumentException e) {
        problems.add(path + ": " + e.getMessage());
        return List.of();
      }
    }
    if (!node.isArray()) {
      problems.add(path + ": must be a list of flags, got " + kind(node));
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (JsonNode item : node) {
      if (!item.isValueNode() || item.isNull()) {
        problems.add(path + ": every item must be text, got " + kind(item));
      } else {
        out.add(item.asText());
      }
    }
    return out;
  }

  private Map<String, Object> freeMap(JsonNode parent, String key, String path) {
    Map<String, Object> out = new LinkedHashMap<>();
    JsonNode node = parent.get(key);
    if (node != null && !node.isNull() && isObject(node, path)) {
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        out.put(field.getKey(), YAML.convertValue(field.getValue(), Object.class));
      }
    }
    return out;
  }

  private Map<String, String> stringMap(JsonNode parent, String key, String path) {
    JsonNode node = parent.get(key);
    if (node == null || node.isNull()) {
      return Map.of();
    }
    if (!isObject(node, path)) {
      return Map.of();
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      if (!field.getValue().isValueNode() || field.getValue().isNull()) {
        problems.add(path + "." + field.getKey() + ": must be text, got " + kind(field.getValue()));
      } else {
        out.put(field.getKey(), field.getValue().asText());
      }
    }
    return out;
  }

  private List<String> command(JsonNode parent, String path) {
    String key = path.substring(path.lastIndexOf('.') + 1);
    if (parent.get(key) == null || parent.get(key).isNull()) {
      return null;
    }
    List<String> command = stringList(parent, key, path);
    if (command.isEmpty()) {
      problems.add(path + ": must not be empty");
      return null;
    }
    try {
      CommandTemplate.checkPlaceholders(command);
    } catch (IllegalArgumentException e) {
      problems.add(path + ": " + e.getMessage());
    }
    return command;
  }
}
