package dev.baton.operator;

import dev.baton.control.ClusterSpec;
import dev.baton.control.EngineType;
import dev.baton.control.GatewayAdmin.WorkerInfo;
import dev.baton.control.LaunchBackend;
import dev.baton.control.WorkerIdentity;
import dev.baton.control.WorkerPlan;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The Kubernetes {@link LaunchBackend}: a worker instance is a pod. Observed instances are the
 * cluster's worker pods, found by label (so a restarted operator adopts them), their worker and
 * revision read back from labels, readiness from the pod's Ready condition (its readiness probe); a
 * launch creates the worker's pod ({@link PodFactory}) under a fresh name; a drain removes the
 * worker from the gateway first and then deletes the pod, whose preStop hook waits out in-flight
 * requests and KV leases. One instance serves one reconcile pass of one cluster.
 */
final class PodBackend implements LaunchBackend {

  private final KubernetesClient client;
  private final ClusterDefinition def;
  private final String namespace;
  private final OwnerReference owner;
  private final Supplier<String> suffix;
  private final Drain drain;
  private final Map<String, Pod> desired = new HashMap<>();
  private final Map<String, Pod> observed = new LinkedHashMap<>();

  /** What happens before a serving pod is deleted: the gateway stops routing to it. */
  interface Drain {
    void deregister(WorkerInfo worker);
  }

  PodBackend(
      KubernetesClient client,
      ClusterDefinition def,
      String namespace,
      OwnerReference owner,
      Supplier<String> suffix,
      Drain drain) {
    this.client = client;
    this.def = def;
    this.namespace = namespace;
    this.owner = owner;
    this.suffix = suffix;
    this.drain = drain;
  }

  @Override
  public List<Observed> observe() {
    observed.clear();
    List<Pod> pods =
        client
            .pods()
            .inNamespace(namespace)
            .withLabels(ObjectLabels.workerSelector(def.name()))
            .list()
            .getItems();
    for (Pod pod : pods) {
      if (pod.getMetadata().getDeletionTimestamp() == null) {
        observed.put(pod.getMetadata().getName(), pod);
      }
    }
    return observed.values().stream().map(PodBackend::observed).toList();
  }

  /** The pods the last {@link #observe} found. */
  List<Pod> pods() {
    return List.copyOf(observed.values());
  }

  @Override
  public String revision(WorkerIdentity worker) {
    return desiredPod(worker).getMetadata().getLabels().get(Labels.REVISION);
  }

  @Override
  public void launch(WorkerIdentity worker, String gang) {
    Pod template = desiredPod(worker);
    Pod pod = new PodBuilder(template).build();
    if (gang != null && !gang.equals(worker.group())) {
      pod.getMetadata().getLabels().put(Labels.GANG, gang);
    }
    // a unique name, so a replacement never collides with a pod that is still terminating
    pod.getMetadata().setName(template.getMetadata().getName() + "-" + suffix.get());
    pod.getMetadata().setNamespace(namespace);
    pod.getMetadata().setOwnerReferences(List.of(owner));
    client.pods().inNamespace(namespace).resource(pod).create();
  }

  @Override
  public void drain(Observed instance) {
    Pod pod = observed.get(instance.instance());
    drain.deregister(workerInfo(def, pod));
    client.pods().inNamespace(namespace).resource(pod).delete();
  }

  private Pod desiredPod(WorkerIdentity worker) {
    return desired.computeIfAbsent(worker.id(), id -> PodFactory.pod(def, worker));
  }

  static Observed observed(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    Health health =
        "Failed".equals(phase) || "Succeeded".equals(phase)
            ? Health.FAILED
            : isReady(pod) ? Health.READY : Health.STARTING;
    return new Observed(
        pod.getMetadata().getName(),
        ClusterObjects.workerOf(pod),
        pod.getMetadata().getLabels().get(Labels.REVISION),
        health,
        gang(pod));
  }

  /** The gang label the gateway pairs the pod under: its group's, or a later gang's. */
  static String gang(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels.getOrDefault(Labels.GANG, labels.get(Labels.GROUP));
  }

  /** Running with its Ready condition true (readiness probe: GET /health). */
  static boolean isReady(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return "Running".equals(phase)
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** How the gateway reaches a worker pod: its pod IP and the role's port. */
  static WorkerInfo workerInfo(ClusterDefinition def, Pod pod) {
    WorkerIdentity worker = ClusterObjects.workerOf(pod);
    ClusterSpec spec = def.cluster();
    String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
    Role role = worker.role();
    int port = spec.roles().containsKey(role) ? PodFactory.port(spec, role) : 0;
    boolean bootstrap =
        role == Role.PREFILL
            && spec.roles().containsKey(role)
            && spec.roles().get(role).engine() == EngineType.SGLANG;
    return new WorkerInfo(
        worker.id(),
        "http://" + (ip == null ? pod.getMetadata().getName() : ip) + ":" + port,
        role,
        gang(pod),
        WorkerPlan.poolFor(spec, role),
        bootstrap ? PodFactory.BOOTSTRAP_PORT : 0);
  }
}
