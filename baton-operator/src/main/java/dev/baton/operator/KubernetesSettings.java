package dev.baton.operator;

import dev.baton.core.Role;
import dev.baton.core.config.ConfigNode;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code kubernetes} section of a {@code BatonCluster}: what a pod needs that the local cluster
 * spec has no words for (image, resources per role, where the model lives, gang scheduling). The
 * rest of the resource's {@code spec} is the {@code baton up} cluster spec as is.
 *
 * @param image the Baton image every worker and the gateway run (deploy/Dockerfile)
 * @param podGroups {@code none}, {@code coscheduling} (scheduler-plugins {@code PodGroup}) or
 *     {@code volcano} (Volcano {@code PodGroup}): one per replica-mode group, {@code minMember} =
 *     its size
 * @param schedulerName the scheduler pods ask for ({@code null}: the cluster default; {@code
 *     volcano} when podGroups is volcano)
 * @param modelClaim a PVC holding the model, mounted read-only at {@code modelMountPath}
 * @param downloadImage the init-container image that downloads an {@code http(s)} model
 * @param resources per role: each value is both request and limit ({@code cpu}, {@code memory},
 *     {@code nvidia.com/gpu})
 * @param gateway the gateway pod's resources
 * @param gatewayServiceType the gateway Service's type (ClusterIP, LoadBalancer, NodePort)
 */
public record KubernetesSettings(
    String image,
    String imagePullPolicy,
    String podGroups,
    String schedulerName,
    String modelClaim,
    String modelMountPath,
    String downloadImage,
    Map<Role, Map<String, String>> resources,
    Map<String, String> gateway,
    String gatewayServiceType) {

  public static final String DEFAULT_IMAGE = "ghcr.io/baton-dev/baton:0.1.0";
  public static final String DEFAULT_DOWNLOAD_IMAGE = "curlimages/curl:8.11.1";
  public static final String DEFAULT_MODEL_MOUNT = "/models";

  /** Whether replica-mode groups get a {@code PodGroup} (a gang scheduler is installed). */
  public boolean gangScheduling() {
    return !"none".equals(podGroups);
  }

  public KubernetesSettings {
    EnumMap<Role, Map<String, String>> copy = new EnumMap<>(Role.class);
    resources.forEach((role, r) -> copy.put(role, Collections.unmodifiableMap(new TreeMap<>(r))));
    resources = Collections.unmodifiableMap(copy);
    gateway = Collections.unmodifiableMap(new TreeMap<>(gateway));
  }

  // sorted maps: a pod's revision hashes its spec, which must not depend on map iteration order

  /** Reads the section; problems are collected with their path ({@code kubernetes.image}). */
  static KubernetesSettings read(ConfigNode n) {
    n.only(
        "image",
        "imagePullPolicy",
        "podGroups",
        "schedulerName",
        "modelVolume",
        "downloadImage",
        "resources",
        "gatewayServiceType");
    ConfigNode volume = n.child("modelVolume");
    volume.only("claimName", "mountPath");
    ConfigNode resources = n.child("resources");
    resources.only("prefill", "decode", "both", "gateway");
    EnumMap<Role, Map<String, String>> perRole = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      perRole.put(role, resources.stringMap(role.wireName()));
    }
    String pullPolicy = n.text("imagePullPolicy", "IfNotPresent");
    if (!java.util.Set.of("Always", "IfNotPresent", "Never").contains(pullPolicy)) {
      n.problem(
          n.key("imagePullPolicy") + ": '" + pullPolicy + "' is not Always, IfNotPresent or Never");
    }
    String podGroups = n.text("podGroups", "none");
    if (!java.util.Set.of("none", "coscheduling", "volcano").contains(podGroups)) {
      n.problem(n.key("podGroups") + ": '" + podGroups + "' is not none, coscheduling or volcano");
    }
    String serviceType = n.text("gatewayServiceType", "ClusterIP");
    if (!java.util.Set.of("ClusterIP", "NodePort", "LoadBalancer").contains(serviceType)) {
      n.problem(
          n.key("gatewayServiceType")
              + ": '"
              + serviceType
              + "' is not ClusterIP, NodePort or LoadBalancer");
    }
    return new KubernetesSettings(
        n.text("image", DEFAULT_IMAGE),
        pullPolicy,
        podGroups,
        n.text("schedulerName", "volcano".equals(podGroups) ? "volcano" : null),
        volume.text("claimName", null),
        volume.text("mountPath", DEFAULT_MODEL_MOUNT),
        n.text("downloadImage", DEFAULT_DOWNLOAD_IMAGE),
        perRole,
        resources.stringMap("gateway"),
        serviceType);
  }
}
