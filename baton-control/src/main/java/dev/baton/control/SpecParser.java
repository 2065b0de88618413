package dev.baton.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
  static final int DEFAULT_MAX = SpecSections.DEFAULT_MAX;

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
    return parse(root, source);
  }

  /**
   * Validates a spec already read into a tree (the Kubernetes operator gets it from a custom
   * resource's {@code spec}); {@code source} names it in error messages.
   */
  public static ClusterSpec parse(JsonNode root, String source) {
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
    ConfigNode n = ConfigNode.collecting("", root, problems);
    n.only(
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
        "supervision",
        "cpuPinning");
    boolean pinning = n.bool("cpuPinning", false);
    String name = n.text("name", null);
    if (name != null) {
      try {
        checkName(name);
      } catch (IllegalArgumentException e) {
        problems.add("name: " + e.getMessage());
      }
    }
    String model = readModel(n);
    Mode mode = Mode.POOL;
    String modeText = n.text("mode", "pool");
    if ("replica".equals(modeText)) {
      mode = Mode.REPLICA;
    } else if (!"pool".equals(modeText)) {
      problems.add("mode: '" + modeText + "' is not a mode (expected pool or replica)");
    }
    ClusterSpec spec =
        new ClusterSpec(
            name,
            model,
            mode,
            n.text("host", "127.0.0.1"),
            SpecSections.engine(n.child("engine")),
            SpecSections.kvTransfer(n.child("kvTransfer")),
            SpecSections.gateway(n.child("gateway")),
            SpecSections.groups(n, mode, pinning),
            SpecSections.roles(n.child("roles"), mode, pinning),
            SpecSections.autoscaler(n.child("autoscaler")),
            SpecSections.supervision(n.child("supervision")),
            pinning);
    if (problems.isEmpty()) {
      checkTopology(spec);
      checkPorts(spec);
      checkPinning(spec);
      checkPdRatio(spec);
    }
    return spec;
  }

  private String readModel(ConfigNode n) {
    String model = n.text("model", null);
    if (model == null) {
      if (!n.has("model")) {
        problems.add("model: required (a GGUF file path, or random:tiny|small|1b)");
      }
      return "";
    }
    if (model.startsWith(ClusterSpec.RANDOM_MODEL_PREFIX)) {
      String preset = model.substring(ClusterSpec.RANDOM_MODEL_PREFIX.length());
      if (!RANDOM_PRESETS.contains(preset)) {
        problems.add("model: unknown random preset '" + preset + "' (expected tiny, small or 1b)");
      }
    } else if (model.isBlank()) {
      problems.add("model: must not be empty");
    }
    return model;
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
    if (prefill != null && decode != null && prefill.engine() != decode.engine()) {
      problems.add(
          "roles: prefill runs "
              + prefill.engine().wireName()
              + " and decode runs "
              + decode.engine().wireName()
              + ": a prefill hands its KV only to a decode of the same engine (Baton's P2P"
              + " channel, vLLM's NIXL side channel and SGLang's bootstrap server are different"
              + " protocols); give both roles the same engine");
    }
    if (prefill != null && !spec.kvTransfer().enabled()) {
      problems.add(
          "kvTransfer.connector: none turns KV transfer off, so prefill workers could not hand"
              + " their KV to decode; remove roles.prefill or choose a connector");
    }
  }

  /** With cpuPinning the control plane sets each Baton worker's {@code --threads}. */
  private void checkPinning(ClusterSpec spec) {
    if (!spec.cpuPinning()) {
      return;
    }
    if (spec.engine().args().contains("--threads")) {
      problems.add("engine.args: --threads is set per worker by cpuPinning (its cores); remove it");
    }
    for (Map.Entry<Role, RoleSpec> e : spec.roles().entrySet()) {
      if (e.getValue().command() == null && e.getValue().args().contains("--threads")) {
        problems.add(
            "roles."
                + e.getKey().wireName()
                + ".args: --threads is set per worker by cpuPinning (its cores); remove it");
      }
    }
  }

  /** The prefill:decode ratio couples two pools: pool mode with both roles, one autoscaled. */
  private void checkPdRatio(ClusterSpec spec) {
    if (spec.autoscaler().pdRatio() == null) {
      return;
    }
    RoleSpec prefill = spec.roles().get(Role.PREFILL);
    RoleSpec decode = spec.roles().get(Role.DECODE);
    if (spec.mode() == Mode.REPLICA) {
      problems.add(
          "autoscaler.pdRatio: replica mode's ratio is its group's shape (roles.prefill.replicas"
              + " : roles.decode.replicas), scaled as a whole by groups.autoscale; use mode: pool"
              + " to keep a ratio between independent pools");
    } else if (prefill == null || decode == null) {
      problems.add("autoscaler.pdRatio: needs both a prefill and a decode role");
    } else if (prefill.autoscale() == null && decode.autoscale() == null) {
      problems.add(
          "autoscaler.pdRatio: set autoscale targets on roles.prefill or roles.decode (or both);"
              + " the ratio couples their scaling decisions");
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
}
