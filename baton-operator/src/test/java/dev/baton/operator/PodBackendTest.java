package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.LaunchBackend;
import dev.baton.control.WorkerIdentity;
import dev.baton.control.WorkerReconciler;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes backend under the shared {@link WorkerReconciler}, pass by pass against fabric8's
 * mock API server (CRUD mode; the test plays the kubelet), side by side with a backend that keeps
 * its instances in memory: both get the same decisions from the same world.
 */
@EnableKubernetesMockClient(crud = true)
class PodBackendTest {

  static KubernetesClient client;

  private static final String NS = "pods";
  private final AtomicInteger suffix = new AtomicInteger();
  private final List<String> deregistered = new ArrayList<>();

  static ClusterDefinition def(String name, String decodeArg, int groups) throws Exception {
    return ClusterDefinition.parse(
        name,
        new ObjectMapper(new YAMLFactory())
            .readTree(
                """
                model: random:tiny
                mode: replica
                groups: {replicas: %d, max: 4}
                roles:
                  prefill: {replicas: 1}
                  decode: {replicas: 1, args: [--max-num-seqs, "%s"]}
                """
                    .formatted(groups, decodeArg)));
  }

  PodBackend pods(ClusterDefinition def) {
    return new PodBackend(
        client,
        def,
        NS,
        new OwnerReferenceBuilder()
            .withApiVersion("baton.dev/v1alpha1")
            .withKind("BatonCluster")
            .withName(def.name())
            .withUid("uid-" + def.name())
            .build(),
        () -> "s" + suffix.incrementAndGet(),
        worker -> deregistered.add(worker.id()));
  }

  /** Instances as entries of a map; the revision is the pod's, so "same world" holds. */
  static final class InMemory implements LaunchBackend {
    final Map<String, Observed> instances = new LinkedHashMap<>();
    Function<WorkerIdentity, String> revision;
    int counter;

    @Override
    public List<Observed> observe() {
      return List.copyOf(instances.values());
    }

    @Override
    public String revision(WorkerIdentity worker) {
      return revision.apply(worker);
    }

    @Override
    public void launch(WorkerIdentity worker, String gang) {
      String name = worker.id() + "#" + ++counter;
      instances.put(name, new Observed(name, worker, revision(worker), Health.STARTING, gang));
    }

    @Override
    public void drain(Observed instance) {
      instances.remove(instance.instance());
    }

    void set(String workerId, Health health) {
      instances.replaceAll(
          (k, o) ->
              o.worker().id().equals(workerId)
                  ? new Observed(k, o.worker(), o.revision(), health, o.gang())
                  : o);
    }
  }

  /** A decision with the backend's instance names left out: which worker, which revision. */
  static List<String> decisions(WorkerReconciler.Plan plan) {
    List<String> out = new ArrayList<>();
    plan.create().forEach(w -> out.add("launch " + w.id() + " in " + plan.gang(w)));
    plan.drain().forEach(o -> out.add("drain " + o.worker().id() + "@" + o.revision()));
    return out;
  }

  /** One pass on each backend; both must decide the same. */
  static List<String> pass(ClusterDefinition def, PodBackend pods, InMemory memory) {
    memory.revision = pods::revision;
    List<WorkerIdentity> desired = WorkerIdentity.desired(def.cluster());
    List<String> onPods =
        decisions(WorkerReconciler.reconcile(def.cluster().mode(), desired, pods));
    List<String> inMemory =
        decisions(WorkerReconciler.reconcile(def.cluster().mode(), desired, memory));
    assertThat(onPods)
        .as("the Kubernetes backend decides as the in-memory one")
        .isEqualTo(inMemory);
    return onPods;
  }

  List<Pod> live(String cluster) {
    return Kubelet.workers(client, NS, cluster);
  }

  void kubelet(String cluster, String workerId, String phase, boolean ready) {
    for (Pod pod : live(cluster)) {
      if (workerId == null || pod.getMetadata().getLabels().get(Labels.WORKER).equals(workerId)) {
        Kubelet.report(client, NS, pod.getMetadata().getName(), phase, ready, "10.1.0.1");
      }
    }
  }

  void allReady(String cluster, InMemory memory) {
    kubelet(cluster, null, "Running", true);
    memory
        .instances
        .keySet()
        .forEach(k -> memory.set(k.substring(0, k.indexOf('#')), LaunchBackend.Health.READY));
  }

  @Test
  void podsGetTheSameDecisionsAsTheInMemoryBackendThroughGangReplaceAdoptionAndARoll()
      throws Exception {
    ClusterDefinition def = def("same", "8", 2);
    InMemory memory = new InMemory();
    assertThat(pass(def, pods(def), memory))
        .containsExactly(
            "launch g0-prefill-0 in g0",
            "launch g0-decode-0 in g0",
            "launch g1-prefill-0 in g1",
            "launch g1-decode-0 in g1");
    assertThat(live("same")).hasSize(4);
    assertThat(live("same").getFirst().getMetadata().getOwnerReferences()).hasSize(1);
    assertThat(pass(def, pods(def), memory)).as("starting pods are waited for").isEmpty();

    allReady("same", memory);
    List<String> before = names(live("same"));
    // a new backend per pass, as after an operator restart: the pods are adopted from labels
    assertThat(pass(def, pods(def), memory)).isEmpty();
    assertThat(names(live("same"))).isEqualTo(before);

    // a Failed member: its whole group is replaced (gateway first for the survivor)
    kubelet("same", "g1-decode-0", "Failed", false);
    memory.set("g1-decode-0", LaunchBackend.Health.FAILED);
    List<String> replaced = pass(def, pods(def), memory);
    assertThat(replaced)
        .containsExactlyInAnyOrder(
            "launch g1-prefill-0 in g1.1",
            "launch g1-decode-0 in g1.1",
            "drain g1-decode-0@" + pods(def).revision(WorkerIdentity.of(Role.DECODE, "g1", 0)),
            "drain g1-prefill-0@" + pods(def).revision(WorkerIdentity.of(Role.PREFILL, "g1", 0)));
    assertThat(deregistered).containsExactlyInAnyOrder("g1-decode-0", "g1-prefill-0");
    // the new gang pairs only within itself at the gateway, and says so on its pods
    assertThat(live("same"))
        .filteredOn(p -> "g1".equals(p.getMetadata().getLabels().get(Labels.GROUP)))
        .filteredOn(p -> p.getMetadata().getDeletionTimestamp() == null)
        .extracting(p -> PodBackend.workerInfo(def, p).group())
        .containsOnly("g1.1");
    allReady("same", memory);

    // a changed decode flag: one group's decode at a time, surge first, old drained once ready
    ClusterDefinition next = def("same", "16", 2);
    assertThat(pass(next, pods(next), memory)).containsExactly("launch g0-decode-0 in g0");
    assertThat(pass(next, pods(next), memory)).isEmpty();
    allReady("same", memory);
    assertThat(pass(next, pods(next), memory))
        .hasSize(1)
        .allMatch(d -> d.startsWith("drain g0-decode-0@"));
    assertThat(pass(next, pods(next), memory)).containsExactly("launch g1-decode-0 in g1.1");
  }

  @Test
  void aLaunchNamesThePodUniquelySoAReplacementNeverCollidesWithATerminatingOne() throws Exception {
    ClusterDefinition def = def("names", "8", 1);
    PodBackend pods = pods(def);
    WorkerIdentity prefill = WorkerIdentity.of(Role.PREFILL, "g0", 0);
    pods.launch(prefill, "g0");
    pods.launch(prefill, "g0");
    List<String> names = names(live("names"));
    assertThat(names).hasSize(2).doesNotHaveDuplicates();
    assertThat(names)
        .allMatch(n -> n.startsWith("names-g0-prefill-0-" + pods.revision(prefill) + "-s"));
  }

  static List<String> names(List<Pod> pods) {
    return pods.stream().map(p -> p.getMetadata().getName()).sorted().toList();
  }
}
