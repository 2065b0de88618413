package dev.baton.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the spec into the command lines of the gateway and of each worker: the Baton CLI flags, or
 * an external engine's command template filled with the port, model and KV settings. Two workers
 * with the same plan need no restart when the spec changes; a different plan rolls.
 */
public final class WorkerPlan {

  private WorkerPlan() {}

  /** A process to run: command line and extra environment. */
  public record Launch(List<String> command, Map<String, String> env) {
    public Launch {
      command = List.copyOf(command);
      env = Map.copyOf(env);
    }
  }

  /**
   * The JSON for {@code --kv-transfer-config}: the connector, this role's kv_role, the spec's extra
   * keys, and in {@code kv_connector_extra_config} the cluster secret's file and the bind host
   * (unless the spec sets them) — docs/KV_TRANSFER.md.
   */
  public static String kvTransferConfig(ClusterSpec spec, Role role, Path secretFile) {
    ObjectNode node = Json.object();
    String connector = spec.kvTransfer().connector();
    node.put("kv_connector", connector);
    node.put("kv_role", role.kvRoleName());
    spec.kvTransfer().config().forEach((k, v) -> node.set(k, Json.MAPPER.valueToTree(v)));
    // Which extra configs take the P2P settings and which the cache URL: a MultiConnector's parts.
    List<ObjectNode> peers = new ArrayList<>();
    List<ObjectNode> caches = new ArrayList<>();
    if (connector.equals(MULTI)) {
      if (extraConfig(node).get("connectors")
          instanceof com.fasterxml.jackson.databind.node.ArrayNode parts) {
        for (var part : parts) {
          if (part instanceof ObjectNode p) {
            (OFFLOAD.equals(p.path("kv_connector").asText()) ? caches : peers).add(extraConfig(p));
          }
        }
      }
    } else {
      (connector.equals(OFFLOAD) ? caches : peers).add(extraConfig(node));
    }
    ClusterSpec.KvCacheSpec cache = spec.kvTransfer().cache();
    if (cache != null && (!cache.local() || cache.port() != null)) {
      String url = cache.url(cache.port() == null ? 0 : cache.port());
      caches.forEach(extra -> extra.putIfAbsent("l2_url", Json.MAPPER.valueToTree(url)));
    }
    if (secretFile != null && !peers.isEmpty()) {
      // A MultiConnector hands its secret to the P2P parts that set none.
      ObjectNode holder = connector.equals(MULTI) ? extraConfig(node) : peers.getFirst();
      boolean hasSecret =
          peers.stream().anyMatch(e -> e.has("secret") || e.has("secret_file"))
              || holder.has("secret")
              || holder.has("secret_file");
      if (!hasSecret) {
        holder.put("secret_file", secretFile.toString());
      }
      for (ObjectNode extra : peers) {
        if (!extra.has("host") && !spec.host().equals("127.0.0.1")) {
          extra.put("host", spec.host());
          if (!extra.has("peers")) {
            // Every worker of this cluster advertises this host: the only place to pull from.
            extra.putArray("peers").add(spec.host());
          }
        }
      }
    }
    for (ObjectNode n : List.of(node)) {
      if (n.get("kv_connector_extra_config") instanceof ObjectNode extra && extra.isEmpty()) {
        n.remove("kv_connector_extra_config"); // only created to look in it
      }
    }
    return Json.write(node);
  }

  private static final String OFFLOAD = "OffloadConnector";
  private static final String MULTI = "MultiConnector";

  /** {@code kv_connector_extra_config} of {@code node}, created when absent. */
  private static ObjectNode extraConfig(ObjectNode node) {
    return node.get("kv_connector_extra_config") instanceof ObjectNode existing
        ? existing
        : node.putObject("kv_connector_extra_config");
  }

  /**
   * A Baton worker's {@code --kv-events-config} for a cluster on {@code host}: vLLM's keys, the PUB
   * and replay sockets on ports the worker picks ({@code *}, bound on the cluster host only), which
   * it tells on {@code GET /kv_events}.
   */
  static String kvEventsConfig(String host) {
    return kvEventsConfig(host, "*", "*");
  }

  /**
   * The same with the PUB and replay ports given: pods bind fixed ones, which their NetworkPolicy
   * opens to the gateway (a picked port cannot be named in a policy).
   */
  public static String kvEventsConfig(String host, String publishPort, String replayPort) {
    String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    ObjectNode c = Json.object();
    c.put("enable_kv_cache_events", true);
    c.put("publisher", "zmq");
    c.put("endpoint", "tcp://" + h + ":" + publishPort);
    c.put("replay_endpoint", "tcp://" + h + ":" + replayPort);
    c.put("topic", "kv-events");
    return Json.write(c);
  }

  /** The worker's command line and environment, without side-channel port or GPU. */
  public static Launch worker(
      ClusterSpec spec,
      Toolchain toolchain,
      String model,
      Role role,
      String group,
      String workerId,
      int port,
      int bootstrapPort,
      Path secretFile,
      String secret,
      Path runDir) {
    return worker(
        spec,
        toolchain,
        model,
        role,
        group,
        workerId,
        new Ports(port, bootstrapPort, 0),
        -1,
        secretFile,
        secret,
        runDir);
  }

  /** A worker's ports: HTTP, SGLang bootstrap (or 0), vLLM NIXL side channel (or 0). */
  public record Ports(int http, int bootstrap, int sideChannel) {}

  /**
   * The worker's command line and environment. A vLLM worker with a side-channel port gets {@code
   * VLLM_NIXL_SIDE_CHANNEL_PORT} (unless the spec's env sets it); {@code gpu} (or -1) fills the
   * {@code {gpu}} placeholder.
   */
  public static Launch worker(
      ClusterSpec spec,
      Toolchain toolchain,
      String model,
      Role role,
      String group,
      String workerId,
      Ports ports,
      int gpu,
      Path secretFile,
      String secret,
      Path runDir) {
    return worker(
        spec,
        toolchain,
        model,
        role,
        group,
        workerId,
        ports,
        gpu,
        null,
        secretFile,
        secret,
        runDir);
  }

  /**
   * The cores a pinned worker runs on, and the taskset executable that pins it (cpuPinning).
   *
   * @param cores the worker's own cores, never empty
   */
  public record Pin(List<Integer> cores, String taskset) {
    public Pin {
      cores = List.copyOf(cores);
      if (cores.isEmpty()) {
        throw new IllegalArgumentException("a pinned worker needs at least one core");
      }
    }
  }

  /**
   * The worker's command line and environment; with a {@link Pin} (cpuPinning) the command runs
   * under {@code taskset -c CORES}, a Baton worker gets {@code --threads} = its core count, and an
   * external engine's template may use {@code {cpus}} (the core list) and {@code {threads}}.
   */
  public static Launch worker(
      ClusterSpec spec,
      Toolchain toolchain,
      String model,
      Role role,
      String group,
      String workerId,
      Ports ports,
      int gpu,
      Pin pin,
      Path secretFile,
      String secret,
      Path runDir) {
    int port = ports.http();
    int bootstrapPort = ports.bootstrap();
    RoleSpec roleSpec = spec.roles().get(role);
    Map<String, String> env = new LinkedHashMap<>(spec.engine().env());
    env.putAll(roleSpec.env());
    env.put("BATON_KV_SECRET_FILE", secretFile.toString());
    if (roleSpec.engine() == EngineType.VLLM && ports.sideChannel() > 0) {
      env.putIfAbsent("VLLM_NIXL_SIDE_CHANNEL_PORT", Integer.toString(ports.sideChannel()));
    }
    List<String> command;
    if (roleSpec.command() != null) {
      Map<String, String> values = new LinkedHashMap<>();
      values.put("java", toolchain.java());
      values.put("classpath", toolchain.classpath());
      values.put("model", model);
      values.put("host", spec.host());
      values.put("port", Integer.toString(port));
      values.put("bootstrap_port", Integer.toString(bootstrapPort));
      if (ports.sideChannel() > 0) {
        values.put("side_channel_port", Integer.toString(ports.sideChannel()));
      }
      if (gpu >= 0) {
        values.put("gpu", Integer.toString(gpu));
      }
      if (pin != null) {
        values.put("cpus", CpuPinning.format(pin.cores()));
        values.put("threads", Integer.toString(pin.cores().size()));
      }
      values.put("role", role.wireName());
      values.put("kv_role", role.kvRoleName());
      values.put("group", group == null ? "" : group);
      values.put("worker", workerId);
      values.put("cluster", spec.name() == null ? "" : spec.name());
      values.put("kv_config", kvTransferConfig(spec, role, secretFile));
      values.put("kv_secret", secret);
      values.put("kv_secret_file", secretFile.toString());
      values.put("run_dir", runDir.toString());
      values.put("gateway_config", "");
      command =
          new ArrayList<>(CommandTemplate.expand(roleSpec.command(), toolchain.baton(), values));
      command.addAll(roleSpec.args());
    } else {
      command = new ArrayList<>(toolchain.baton());
      command.addAll(
          List.of(
              "serve",
              "-m",
              model,
              "--host",
              spec.host(),
              "--port",
              Integer.toString(port),
              "--role",
              role.wireName()));
      if (spec.kvTransfer().enabled()) {
        command.add("--kv-transfer-config");
        command.add(kvTransferConfig(spec, role, secretFile));
      }
      if (spec.engine().kvEvents()) {
        command.add("--kv-events-config");
        command.add(kvEventsConfig(spec.host()));
      }
      if (role == Role.BOTH && hasPdPool(spec)) {
        // The gateway routes "model": "colocated" to this pool; the worker must answer to it.
        command.add("--served-model-name");
        command.add(COLOCATED_POOL);
      }
      command.addAll(spec.engine().args());
      command.addAll(roleSpec.args());
      if (pin != null) {
        command.add("--threads");
        command.add(Integer.toString(pin.cores().size()));
      }
    }
    if (pin != null) {
      // taskset sets the affinity before exec: the worker and every thread it starts inherit it.
      command.addAll(0, List.of(pin.taskset(), "-c", CpuPinning.format(pin.cores())));
    }
    return new Launch(command, env);
  }

  /** The gateway's command line. */
  public static Launch gateway(
      ClusterSpec spec, Toolchain toolchain, Path config, int port, Path runDir) {
    List<String> command;
    if (spec.gateway().command() != null) {
      Map<String, String> values = new LinkedHashMap<>();
      values.put("java", toolchain.java());
      values.put("classpath", toolchain.classpath());
      values.put("host", spec.host());
      values.put("port", Integer.toString(port));
      values.put("gateway_config", config.toString());
      values.put("run_dir", runDir.toString());
      values.put("cluster", spec.name() == null ? "" : spec.name());
      command =
          new ArrayList<>(
              CommandTemplate.expand(spec.gateway().command(), toolchain.baton(), values));
    } else {
      command = new ArrayList<>(toolchain.baton());
      command.addAll(
          List.of("gateway", "--config", config.toString(), "--port", Integer.toString(port)));
    }
    command.addAll(spec.gateway().args());
    return new Launch(command, Map.of());
  }

  /** The gateway pool serving P/D requests (and plain requests when there is no both pool). */
  public static final String DISAGGREGATED_POOL = "disaggregated";

  /** The gateway pool of colocated ({@code both}) workers; also the model name that reaches it. */
  public static final String COLOCATED_POOL = "colocated";

  /** Whether the cluster has prefill or decode roles (a P/D pool in the gateway). */
  static boolean hasPdPool(ClusterSpec spec) {
    return spec.roles().containsKey(Role.PREFILL) || spec.roles().containsKey(Role.DECODE);
  }

  /** The gateway pool a worker of {@code role} joins. */
  public static String poolFor(ClusterSpec spec, Role role) {
    return role == Role.BOTH ? COLOCATED_POOL : DISAGGREGATED_POOL;
  }

  /**
   * The gateway's config file (docs/GATEWAY.md format): loopback bind, the admin token, and one
   * pool per kind of worker — the P/D pool first (the default route), then the colocated pool,
   * which requests reach with {@code "model": "colocated"}. Workers are added through the admin API
   * once they are ready.
   */
  public static String gatewayConfig(ClusterSpec spec, int port, String adminToken) {
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("host", spec.host());
    config.put("port", port);
    if (adminToken != null) {
      config.put("admin_token", adminToken);
    }
    config.putAll(spec.gateway().config());
    List<Map<String, Object>> pools = new ArrayList<>();
    if (hasPdPool(spec)) {
      Map<String, Object> pool = new LinkedHashMap<>();
      pool.put("name", DISAGGREGATED_POOL);
      RoleSpec prefill = spec.roles().get(Role.PREFILL);
      EngineType engine = prefill == null ? EngineType.BATON : prefill.engine();
      pool.put(
          "mode", prefill == null ? "colocated" : engine == EngineType.SGLANG ? "sglang" : "nixl");
      pool.put(
          "policy",
          spec.gateway().policy() != null
              ? spec.gateway().policy()
              : prefill == null ? "least-request" : "pd");
      pool.putAll(spec.gateway().pool());
      pools.add(pool);
    }
    if (spec.roles().containsKey(Role.BOTH)) {
      Map<String, Object> pool = new LinkedHashMap<>();
      pool.put("name", COLOCATED_POOL);
      pool.put("mode", "colocated");
      if (hasPdPool(spec)) {
        pool.put("models", List.of(COLOCATED_POOL));
      }
      pool.put(
          "policy",
          spec.gateway().policy() != null && !hasPdPool(spec)
              ? spec.gateway().policy()
              : "least-request");
      pools.add(pool);
    }
    config.put("pools", pools);
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper(
              new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
          .writeValueAsString(config);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write the gateway config: " + e.getMessage(), e);
    }
  }
}
