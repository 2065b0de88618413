package dev.baton.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.core.Json;
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

  /** The JSON for {@code --kv-transfer-config}: connector, this role's kv_role, extra keys. */
  public static String kvTransferConfig(ClusterSpec spec, Role role) {
    ObjectNode node = Json.object();
    node.put("kv_connector", spec.kvTransfer().connector());
    node.put("kv_role", role.kvRole());
    spec.kvTransfer().config().forEach((k, v) -> node.set(k, Json.MAPPER.valueToTree(v)));
    return Json.write(node);
  }

  /** The worker's command line and environment. */
  public static Launch worker(
      ClusterSpec spec,
      Toolchain toolchain,
      String model,
      Role role,
      String group,
      String workerId,
      int port,
      Path secretFile,
      String secret,
      Path runDir) {
    RoleSpec roleSpec = spec.roles().get(role);
    Map<String, String> env = new LinkedHashMap<>(spec.engine().env());
    env.putAll(roleSpec.env());
    env.put("BATON_KV_SECRET_FILE", secretFile.toString());
    List<String> command;
    if (roleSpec.command() != null) {
      Map<String, String> values = new LinkedHashMap<>();
      values.put("java", toolchain.java());
      values.put("classpath", toolchain.classpath());
      values.put("model", model);
      values.put("host", spec.host());
      values.put("port", Integer.toString(port));
      values.put("role", role.wireName());
      values.put("kv_role", role.kvRole());
      values.put("group", group == null ? "" : group);
      values.put("worker", workerId);
      values.put("cluster", spec.name() == null ? "" : spec.name());
      values.put("kv_config", kvTransferConfig(spec, role));
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
        command.add(kvTransferConfig(spec, role));
        command.add("--kv-secret-file");
        command.add(secretFile.toString());
      }
      command.addAll(spec.engine().args());
      command.addAll(roleSpec.args());
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

  /**
   * The gateway's config file: bind address, mode, routing policy and the spec's extra settings;
   * workers are added through the admin API once they are ready.
   */
  public static String gatewayConfig(ClusterSpec spec, int port) {
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("host", spec.host());
    config.put("port", port);
    config.put("mode", spec.mode().wireName());
    if (spec.gateway().policy() != null) {
      config.put("policy", spec.gateway().policy());
    }
    config.putAll(spec.gateway().config());
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper(
              new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
          .writeValueAsString(config);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("cannot write the gateway config: " + e.getMessage(), e);
    }
  }
}
