package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The planner's rules on replica groups, without an API server. */
class PodPlannerTest {

  private final AtomicInteger counter = new AtomicInteger();

  static ClusterDefinition def(String decodeArg) throws Exception {
    return ClusterDefinition.parse(
        "c",
        new ObjectMapper(new YAMLFactory())
            .readTree(
                """
                model: random:tiny
                mode: replica
                groups: {replicas: 2}
                roles:
                  prefill: {replicas: 1}
                  decode: {replicas: 1, args: [--max-num-seqs, "%s"]}
                """
                    .formatted(decodeArg)));
  }

  static Map<String, Pod> desired(ClusterDefinition def) {
    Map<String, Pod> desired = new LinkedHashMap<>();
    for (WorkerIdentity w : WorkerIdentity.desired(def.cluster())) {
      desired.put(w.id(), PodFactory.pod(def, w));
    }
    return desired;
  }

  static Pod withPhase(Pod pod, String phase, boolean ready) {
    return new PodBuilder(pod)
        .withNewStatus()
        .withPhase(phase)
        .withConditions(
            new PodConditionBuilder()
                .withType("Ready")
                .withStatus(ready ? "True" : "False")
                .build())
        .endStatus()
        .build();
  }

  PodPlanner.Plan plan(ClusterDefinition def, List<Pod> pods) {
    return PodPlanner.plan(def, desired(def), pods, () -> "s" + counter.incrementAndGet());
  }

  static List<String> groups(List<Pod> pods) {
    return pods.stream()
        .map(p -> p.getMetadata().getLabels().get(Labels.GROUP))
        .distinct()
        .toList();
  }

  @Test
  void groupsRollOneGroupAtATimeAndOldPodsLeaveOnlyWhenTheirReplacementsAreReady()
      throws Exception {
    ClusterDefinition old = def("8");
    List<Pod> running = new ArrayList<>();
    desired(old).values().forEach(p -> running.add(withPhase(p, "Running", true)));
    ClusterDefinition next = def("16");

    PodPlanner.Plan first = plan(next, running);
    assertThat(first.drain()).isEmpty();
    assertThat(first.create()).hasSize(1); // g0's decode: the prefill's flags did not change
    assertThat(groups(first.create())).containsExactly("g0");
    assertThat(first.create().get(0).getMetadata().getLabels())
        .containsEntry(Labels.ROLE, "decode");

    List<Pod> starting = new ArrayList<>(running);
    first.create().forEach(p -> starting.add(withPhase(p, "Running", false)));
    assertThat(plan(next, starting).idle()).isTrue(); // wait: the new gang is not ready

    List<Pod> ready = new ArrayList<>(running);
    first.create().forEach(p -> ready.add(withPhase(p, "Running", true)));
    PodPlanner.Plan second = plan(next, ready);
    assertThat(second.drain()).hasSize(1);
    assertThat(groups(second.drain())).containsExactly("g0");
    assertThat(second.drain()).allMatch(p -> running.contains(p)); // only old pods are drained
    assertThat(second.create()).isEmpty(); // g1 waits until g0's roll is done

    List<Pod> afterG0 = new ArrayList<>(ready);
    afterG0.removeAll(second.drain());
    PodPlanner.Plan third = plan(next, afterG0);
    assertThat(groups(third.create())).containsExactly("g1");
  }

  @Test
  void aNewModelRollsEveryMemberOfAGroupTogether() throws Exception {
    ClusterDefinition old = def("8");
    List<Pod> running = new ArrayList<>();
    desired(old).values().forEach(p -> running.add(withPhase(p, "Running", true)));
    ClusterDefinition next =
        ClusterDefinition.parse(
            "c",
            new ObjectMapper(new YAMLFactory())
                .readTree(
                    """
                    model: random:small
                    mode: replica
                    groups: {replicas: 2}
                    roles:
                      prefill: {replicas: 1}
                      decode: {replicas: 1, args: [--max-num-seqs, "8"]}
                    """));
    PodPlanner.Plan first = plan(next, running);
    assertThat(first.create()).hasSize(2);
    assertThat(groups(first.create())).containsExactly("g0");
  }

  @Test
  void aFinishedPodIsReplacedAndItsGroupWithIt() throws Exception {
    ClusterDefinition def = def("8");
    List<Pod> pods = new ArrayList<>();
    desired(def).values().forEach(p -> pods.add(withPhase(p, "Running", true)));
    Pod failed =
        pods.stream()
            .filter(p -> p.getMetadata().getName().contains("g1-decode-0"))
            .findFirst()
            .orElseThrow();
    pods.set(pods.indexOf(failed), withPhase(failed, "Failed", false));

    PodPlanner.Plan plan = plan(def, pods);
    assertThat(groups(plan.drain())).containsExactly("g1");
    assertThat(plan.drain()).hasSize(2); // the failed pod and its group's prefill
    assertThat(groups(plan.create())).containsExactly("g1");
    assertThat(plan.create()).hasSize(2);
  }

  @Test
  void newPodsGetUniqueNamesSoAReplacementNeverCollidesWithATerminatingPod() throws Exception {
    ClusterDefinition def = def("8");
    PodPlanner.Plan a = plan(def, List.of());
    PodPlanner.Plan b = plan(def, List.of());
    assertThat(a.create()).hasSize(4);
    assertThat(a.create().get(0).getMetadata().getName())
        .startsWith("c-g0-prefill-0-")
        .isNotEqualTo(b.create().get(0).getMetadata().getName());
  }
}
