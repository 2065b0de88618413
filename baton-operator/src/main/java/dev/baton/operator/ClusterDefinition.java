package dev.baton.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.control.ClusterSpec;
import dev.baton.control.Mode;
import dev.baton.control.SpecException;
import dev.baton.control.SpecParser;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code BatonCluster}'s {@code spec}, validated: the {@code baton up} cluster spec (read by the
 * control plane's {@link SpecParser}, so both accept and refuse exactly the same specs), the {@code
 * kubernetes} section, and the optional top-level {@code replicas} that the scale subresource
 * writes.
 *
 * @param name the resource's name (also the cluster name)
 * @param cluster the cluster spec, with {@code replicas} applied
 * @param kubernetes pod settings
 */
public record ClusterDefinition(String name, ClusterSpec cluster, KubernetesSettings kubernetes) {

  /** Keys of the resource's spec that belong to the operator, not to the cluster spec. */
  static final List<String> OPERATOR_KEYS = List.of("kubernetes", "replicas");

  /**
   * Validates {@code spec} of the resource {@code name}; every problem is reported together.
   *
   * @throws SpecException naming each problem with its path
   */
  public static ClusterDefinition parse(String name, JsonNode spec) {
    List<String> problems = new ArrayList<>();
    if (spec == null || !spec.isObject()) {
      throw new SpecException(name, List.of("spec: must be a mapping (the cluster spec)"));
    }
    boolean validName = true;
    try {
      SpecParser.checkName(name);
    } catch (IllegalArgumentException e) {
      problems.add("metadata.name: " + e.getMessage());
      validName = false;
    }
    ObjectNode clusterTree = spec.deepCopy();
    OPERATOR_KEYS.forEach(clusterTree::remove);
    if (clusterTree.has("name") && !name.equals(clusterTree.get("name").asText())) {
      problems.add(
          "name: '"
              + clusterTree.get("name").asText()
              + "' differs from metadata.name '"
              + name
              + "' (leave it out: the resource names the cluster)");
    }
    if (validName) {
      clusterTree.put("name", name);
    }
    ConfigNode top = ConfigNode.collecting("", spec, problems);
    JsonNode replicas = spec.get("replicas");
    if (replicas != null) {
      int count = top.nonNegativeInt("replicas", 0);
      applyReplicas(clusterTree, count);
    }
    KubernetesSettings kubernetes = KubernetesSettings.read(top.child("kubernetes"));
    ClusterSpec cluster = null;
    try {
      cluster = SpecParser.parse(clusterTree, "BatonCluster " + name);
    } catch (SpecException e) {
      problems.addAll(e.problems());
    }
    if (cluster != null
        && cluster.kvTransfer().cache() != null
        && cluster.kvTransfer().cache().local()) {
      problems.add(
          "kvTransfer.cache.redis: 'local' starts a redis-server beside baton up; on Kubernetes"
              + " name a Redis service instead (redis://host:port/db)");
    }
    if (cluster != null && cluster.cpuPinning()) {
      problems.add(
          "cpuPinning: pins local worker processes (baton up); on Kubernetes give the workers"
              + " integer CPU requests equal to their limits (kubernetes.resources) on nodes with"
              + " the kubelet's static CPU manager policy, which gives such pods cores of their own");
    }
    if (!problems.isEmpty()) {
      throw new SpecException("BatonCluster " + name, problems);
    }
    return new ClusterDefinition(name, cluster, kubernetes);
  }

  /**
   * Writes the scale subresource's count where it belongs: the group count in replica mode, else
   * the decode pool (or the colocated pool when there is no decode role).
   */
  private static void applyReplicas(ObjectNode tree, int count) {
    if ("replica".equals(tree.path("mode").asText("pool"))) {
      JsonNode groups = tree.get("groups");
      if (groups instanceof ObjectNode object) {
        object.put("replicas", count);
      } else {
        tree.put("groups", count);
      }
      return;
    }
    JsonNode roles = tree.get("roles");
    if (!(roles instanceof ObjectNode rolesObject)) {
      return; // the parser reports the missing roles
    }
    String target = rolesObject.has("decode") ? "decode" : "both";
    if (rolesObject.get(target) instanceof ObjectNode role) {
      role.put("replicas", count);
    } else if (!rolesObject.has(target)) {
      rolesObject.set(target, Json.object().put("replicas", count));
    }
  }

  /** The count the scale subresource reports: groups (replica mode) or the scaled pool's size. */
  public int scaleReplicas() {
    if (cluster.mode() == Mode.REPLICA) {
      return cluster.groups().replicas();
    }
    Role role = scaledRole();
    return cluster.roles().get(role).replicas();
  }

  /** The role the scale subresource scales in pool mode: decode, or both without decode. */
  public Role scaledRole() {
    return cluster.roles().containsKey(Role.DECODE) ? Role.DECODE : Role.BOTH;
  }
}
