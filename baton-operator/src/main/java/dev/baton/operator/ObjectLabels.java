package dev.baton.operator;

import dev.baton.control.WorkerIdentity;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import java.util.LinkedHashMap;
import java.util.Map;

/** Names, labels and security settings shared by every object of a cluster. */
final class ObjectLabels {

  private ObjectLabels() {}

  /** Labels every object of the cluster carries (what cleanup and the pod informer select). */
  static Map<String, String> common(String cluster, String component) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(Labels.NAME, "baton");
    labels.put(Labels.MANAGED_BY, Labels.OPERATOR);
    labels.put(Labels.CLUSTER, cluster);
    labels.put(Labels.COMPONENT, component);
    return labels;
  }

  static Map<String, String> worker(String cluster, WorkerIdentity worker, String revision) {
    Map<String, String> labels = common(cluster, Labels.WORKER_COMPONENT);
    labels.put(Labels.ROLE, worker.role().wireName());
    if (worker.group() != null) {
      labels.put(Labels.GROUP, worker.group());
    }
    labels.put(Labels.WORKER, worker.id());
    labels.put(Labels.REVISION, revision);
    return labels;
  }

  /** Selects the cluster's worker pods. */
  static Map<String, String> workerSelector(String cluster) {
    return Map.of(Labels.CLUSTER, cluster, Labels.COMPONENT, Labels.WORKER_COMPONENT);
  }

  static Map<String, String> gatewaySelector(String cluster) {
    return Map.of(Labels.CLUSTER, cluster, Labels.COMPONENT, Labels.GATEWAY_COMPONENT);
  }

  static String secretName(String cluster) {
    return cluster + "-kv";
  }

  static String gatewayConfigName(String cluster) {
    return cluster + "-gateway-config";
  }

  static String gatewayName(String cluster) {
    return cluster + "-gateway";
  }

  static String podGroupName(String cluster, String group) {
    return cluster + "-" + group;
  }

  static SecurityContext containerSecurity() {
    return new SecurityContextBuilder()
        .withAllowPrivilegeEscalation(false)
        .withRunAsNonRoot(true)
        .withNewCapabilities()
        .withDrop("ALL")
        .endCapabilities()
        .build();
  }

  static PodSecurityContext podSecurity() {
    return new PodSecurityContextBuilder()
        .withRunAsNonRoot(true)
        .withRunAsUser((long) PodFactory.UID)
        .withRunAsGroup((long) PodFactory.UID)
        .withFsGroup((long) PodFactory.UID)
        .withNewSeccompProfile()
        .withType("RuntimeDefault")
        .endSeccompProfile()
        .build();
  }
}
