package dev.baton.operator;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;

/**
 * Plays the kubelet on the mock API server, which runs none: pod status as a kubelet reports it.
 */
final class Kubelet {

  private Kubelet() {}

  /** Sets a pod's phase, IP and Ready condition (its readiness probe's verdict). */
  static void report(
      KubernetesClient client,
      String namespace,
      String pod,
      String phase,
      boolean ready,
      String ip) {
    client
        .pods()
        .inNamespace(namespace)
        .withName(pod)
        .editStatus(
            p ->
                new PodBuilder(p)
                    .withNewStatus()
                    .withPhase(phase)
                    .withPodIP(ip)
                    .withConditions(
                        new PodConditionBuilder()
                            .withType("Ready")
                            .withStatus(ready ? "True" : "False")
                            .build())
                    .endStatus()
                    .build());
  }

  /** A cluster's worker pods, as the API server lists them. */
  static List<Pod> workers(KubernetesClient client, String namespace, String cluster) {
    return client
        .pods()
        .inNamespace(namespace)
        .withLabels(ObjectLabels.workerSelector(cluster))
        .list()
        .getItems();
  }
}
