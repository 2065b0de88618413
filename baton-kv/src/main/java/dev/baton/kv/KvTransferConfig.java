package dev.baton.kv;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import dev.baton.kv.p2p.P2pConnector;
import dev.baton.kv.p2p.P2pOptions;
import dev.baton.kv.p2p.Transport;
import java.util.Set;

/**
 * The worker's {@code --kv-transfer-config}: which connector, which role, what to do when a load
 * fails, and the connector's own options. Parsed from vLLM-style JSON:
 *
 * <pre>
 * {"kv_connector": "P2pConnector", "kv_role": "kv_both",
 *  "kv_load_failure_policy": "fail", "engine_id": "prefill-0",
 *  "kv_connector_extra_config": {"host": "127.0.0.1", "port": 0, "lease_seconds": 30}}
 * </pre>
 *
 * @param connector connector name, e.g. {@code P2pConnector}
 * @param role producer, consumer or both
 * @param loadFailurePolicy fail (default) or recompute
 * @param engineId this worker's id in {@code remote_engine_id}; null picks a random one
 * @param extraConfigJson the connector's own options as JSON text (kept as text so the record stays
 *     immutable; each connector parses its part)
 */
public record KvTransferConfig(
    String connector,
    Role role,
    LoadFailurePolicy loadFailurePolicy,
    String engineId,
    String extraConfigJson) {

  private static final Set<String> KEYS =
      Set.of(
          "kv_connector",
          "kv_role",
          "kv_load_failure_policy",
          "engine_id",
          "kv_connector_extra_config");

  public KvTransferConfig {
    if (connector == null || connector.isBlank()) {
      throw new IllegalArgumentException("kv_connector is required");
    }
    if (role == null) {
      throw new IllegalArgumentException("kv_role is required");
    }
    if (loadFailurePolicy == null) {
      loadFailurePolicy = LoadFailurePolicy.FAIL;
    }
    if (extraConfigJson == null) {
      extraConfigJson = "{}";
    }
  }

  /**
   * Parses {@code --kv-transfer-config}; every mistake is an IllegalArgumentException saying which.
   */
  public static KvTransferConfig parse(String json) {
    JsonNode root;
    try {
      root = Json.parse(json);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--kv-transfer-config: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("--kv-transfer-config must be a JSON object");
    }
    try {
      ConfigNode n = ConfigNode.strict("", root);
      n.only(KEYS.toArray(String[]::new));
      String connector = n.text("kv_connector", null);
      if (connector == null) {
        throw new IllegalArgumentException("kv_connector is required, e.g. \"P2pConnector\"");
      }
      if (!KvConnectors.names().contains(connector)) {
        throw new IllegalArgumentException(
            "unknown kv_connector '" + connector + "'; known: " + KvConnectors.names());
      }
      String role = n.text("kv_role", null);
      if (role == null) {
        throw new IllegalArgumentException(
            "kv_role is required: kv_producer, kv_consumer or kv_both");
      }
      String policy = n.text("kv_load_failure_policy", null);
      JsonNode extra = root.get("kv_connector_extra_config");
      if (extra != null && !extra.isNull() && !extra.isObject()) {
        throw new IllegalArgumentException("kv_connector_extra_config must be a JSON object");
      }
      KvTransferConfig config =
          new KvTransferConfig(
              connector,
              Role.fromKvRoleName(role),
              policy == null ? LoadFailurePolicy.FAIL : LoadFailurePolicy.fromWireName(policy),
              n.text("engine_id", null),
              extra == null || extra.isNull() ? "{}" : Json.write(extra));
      config.validateOptions(); // now, not when the first request arrives
      return config;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--kv-transfer-config: " + e.getMessage(), e);
    }
  }

  /** Parses the connector's own options, throwing IllegalArgumentException on a mistake. */
  void validateOptions() {
    switch (connector) {
      case P2pConnector.NAME -> p2pOptions();
      case dev.baton.kv.offload.OffloadConnector.NAME ->
          dev.baton.kv.offload.OffloadOptions.fromJson(extraConfig());
      case MultiConnector.NAME ->
          MultiConnector.parts(this).forEach(KvTransferConfig::validateOptions);
      default -> {}
    }
  }

  /** The connector's options as a JSON tree (a fresh copy). */
  public JsonNode extraConfig() {
    return Json.parse(extraConfigJson);
  }

  /** A copy whose connector uses {@code secret} (the {@code --kv-secret} flag wins over JSON). */
  public KvTransferConfig withSecret(String secret) {
    com.fasterxml.jackson.databind.node.ObjectNode extra =
        (com.fasterxml.jackson.databind.node.ObjectNode) extraConfig();
    extra.remove("secret_file");
    extra.put("secret", secret);
    return new KvTransferConfig(connector, role, loadFailurePolicy, engineId, Json.write(extra));
  }

  /** A copy whose connector reads its secret from {@code file} ({@code --kv-secret-file}). */
  public KvTransferConfig withSecretFile(java.nio.file.Path file) {
    com.fasterxml.jackson.databind.node.ObjectNode extra =
        (com.fasterxml.jackson.databind.node.ObjectNode) extraConfig();
    extra.remove("secret");
    extra.put("secret_file", file.toString());
    return new KvTransferConfig(connector, role, loadFailurePolicy, engineId, Json.write(extra));
  }

  /** This config as {@code --kv-transfer-config} JSON (parses back to an equal record). */
  public String toJson() {
    com.fasterxml.jackson.databind.node.ObjectNode root = Json.object();
    root.put("kv_connector", connector);
    root.put("kv_role", role.kvRoleName());
    root.put("kv_load_failure_policy", loadFailurePolicy.wireName());
    if (engineId != null) {
      root.put("engine_id", engineId);
    }
    root.set("kv_connector_extra_config", extraConfig());
    return Json.write(root);
  }

  /**
   * Where the engine should put its KV pool so same-host consumers can copy blocks straight out of
   * it: set for a P2P producer whose transport is not forced to TCP.
   */
  public java.util.Optional<java.nio.file.Path> sharedPoolDir() {
    if (connector.equals(MultiConnector.NAME)) {
      return MultiConnector.parts(this).stream()
          .map(KvTransferConfig::sharedPoolDir)
          .flatMap(java.util.Optional::stream)
          .findFirst();
    }
    if (!connector.equals(P2pConnector.NAME) || !role.canPrefill()) {
      return java.util.Optional.empty();
    }
    P2pOptions p2p = p2pOptions();
    return p2p.transport() == Transport.TCP
        ? java.util.Optional.empty()
        : java.util.Optional.of(p2p.shmDir());
  }

  /** The P2P connector's options from the extra config. */
  public P2pOptions p2pOptions() {
    return P2pOptions.fromJson(extraConfig());
  }

  /** Never shows an inline secret. */
  @Override
  public String toString() {
    JsonNode extra = extraConfig();
    if (extra.has("secret")) {
      ((com.fasterxml.jackson.databind.node.ObjectNode) extra).put("secret", "<redacted>");
    }
    return "KvTransferConfig[connector="
        + connector
        + ", role="
        + role.kvRoleName()
        + ", loadFailurePolicy="
        + loadFailurePolicy.wireName()
        + ", engineId="
        + engineId
        + ", extraConfig="
        + Json.write(extra)
        + "]";
  }
}
