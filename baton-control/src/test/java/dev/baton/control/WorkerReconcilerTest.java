package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The shared worker reconcile on an in-memory backend: the decisions (what starts, what drains, in
 * which order) without processes or pods. The Kubernetes backend runs the same passes in
 * baton-operator's {@code PodBackendTest}.
 */
class WorkerReconcilerTest {

  private static ClusterSpec spec(String mode, String rest) {
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\nmode: " + mode + "\n" + rest, "test");
  }

  private static ClusterSpec replica(int groups) {
    return spec(
        "replica",
        "groups: {replicas: "
            + groups
            + ", max: 4}\nroles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2}\n");
  }

  private static ClusterSpec pool(int prefill, int decode) {
    return spec(
        "pool",
        "roles:\n  prefill: {replicas: "
            + prefill
            + ", max: 4}\n  decode: {replicas: "
            + decode
            + ", max: 4}\n");
  }

  private static WorkerReconciler.Plan pass(ClusterSpec spec, InMemoryWorkers backend) {
    return WorkerReconciler.reconcile(spec.mode(), WorkerIdentity.desired(spec), backend);
  }

  @Test
  void aGroupStartsWholeAndIsNotStartedAgainWhileItsMembersStart() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(replica(2), workers);
    assertThat(workers.workers())
        .containsExactly(
            "g0-prefill-0",
            "g0-decode-0",
            "g0-decode-1",
            "g1-prefill-0",
            "g1-decode-0",
            "g1-decode-1");
    workers.takeLaunched();
    workers.ready("g0-");
    assertThat(pass(replica(2), workers).idle()).as("starting members are waited for").isTrue();

    workers.ready("g1-");
    pass(replica(3), workers); // a scale-out launches the new group as a whole
    assertThat(workers.takeLaunched())
        .containsExactly("g2-prefill-0#7", "g2-decode-0#8", "g2-decode-1#9");
  }

  @Test
  void aGroupThatLosesAMemberIsReplacedWholeAndTheOtherGroupIsLeftAlone() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(replica(2), workers);
    workers.ready("");
    workers.takeLaunched();
    List<String> g0 = workers.instances().subList(0, 3);

    workers.lose("g1-decode-1"); // a deleted pod: the survivors hold state for it
    WorkerReconciler.Plan plan = pass(replica(2), workers);
    assertThat(workers.takeDrained()).containsExactly("g1-prefill-0#4", "g1-decode-0#5");
    assertThat(plan.create())
        .extracting(WorkerIdentity::id)
        .containsExactly("g1-prefill-0", "g1-decode-0", "g1-decode-1");
    assertThat(workers.instances()).containsAll(g0);

    workers.ready("");
    workers.fail("g0-prefill-0"); // an exited process or a Failed pod: the same rule
    pass(replica(2), workers);
    assertThat(workers.takeDrained())
        .containsExactlyInAnyOrder("g0-prefill-0#1", "g0-decode-0#2", "g0-decode-1#3");
    assertThat(workers.workers()).filteredOn(id -> id.startsWith("g0-")).hasSize(3);
    assertThat(workers.instances()).doesNotContainAnyElementsOf(g0);
  }

  @Test
  void aPoolWorkerThatFailsIsReplacedAloneAndScaleInDrainsTheNewestFirst() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(pool(1, 3), workers);
    workers.ready("");
    workers.fail("decode-1");
    pass(pool(1, 3), workers);
    assertThat(workers.takeDrained()).containsExactly("decode-1#3");
    assertThat(workers.workers()).containsExactly("prefill-0", "decode-0", "decode-2", "decode-1");

    workers.ready("");
    pass(pool(1, 1), workers);
    assertThat(workers.takeDrained()).containsExactly("decode-2#4", "decode-1#5");
  }

  @Test
  void aRestartedControllerAdoptsWhatRunsInsteadOfRecreatingIt() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(replica(2), workers); // the previous controller's work
    workers.ready("");
    workers.takeLaunched();
    // a fresh pass keeps nothing from the last one: it observes and finds everything in place
    assertThat(pass(replica(2), workers).idle()).isTrue();
    assertThat(workers.takeLaunched()).isEmpty();

    // stopped mid-roll: the new g0 decode members run beside the old ones
    workers.revision(Role.DECODE, "r2");
    pass(replica(2), workers);
    assertThat(workers.takeLaunched()).containsExactly("g0-decode-0#7", "g0-decode-1#8");
    workers.ready("g0-");
    WorkerReconciler.Plan resumed = pass(replica(2), workers);
    assertThat(resumed.create()).as("the replacements are adopted, not launched again").isEmpty();
    assertThat(workers.takeDrained()).containsExactly("g0-decode-0#2", "g0-decode-1#3");
  }

  @Test
  void aRollSurgesOneUnitPerLaneAndDrainsTheOldOnlyOnceItsReplacementIsReady() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(pool(2, 2), workers);
    workers.ready("");
    workers.takeLaunched();

    workers.revision(Role.DECODE, "r2").revision(Role.PREFILL, "r2");
    pass(pool(2, 2), workers);
    // one unit per lane: each role rolls its first worker, beside the old one
    assertThat(workers.takeLaunched()).containsExactly("prefill-0#5", "decode-0#6");
    assertThat(workers.takeDrained()).isEmpty();
    assertThat(pass(pool(2, 2), workers).idle()).as("the new ones are not ready").isTrue();

    workers.ready("decode-0");
    pass(pool(2, 2), workers);
    assertThat(workers.takeDrained()).containsExactly("decode-0#3");
    assertThat(workers.takeLaunched()).as("the next unit waits for the next pass").isEmpty();
    pass(pool(2, 2), workers);
    assertThat(workers.takeLaunched()).containsExactly("decode-1#7");

    workers.ready("");
    pass(pool(2, 2), workers);
    assertThat(workers.takeDrained()).containsExactly("prefill-0#1", "decode-1#4");
    pass(pool(2, 2), workers);
    assertThat(workers.takeLaunched()).containsExactly("prefill-1#8");
    workers.ready("");
    pass(pool(2, 2), workers);
    assertThat(workers.takeDrained()).containsExactly("prefill-1#2");
    assertThat(pass(pool(2, 2), workers).idle()).isTrue();
    assertThat(workers.observe()).allMatch(o -> o.revision().equals("r2")).hasSize(4);
  }

  @Test
  void aGroupRollsItsOutdatedMembersTogetherAndOneGroupAtATime() {
    InMemoryWorkers workers = new InMemoryWorkers();
    pass(replica(2), workers);
    workers.ready("");
    workers.takeLaunched();

    workers.revision(Role.DECODE, "r2");
    pass(replica(2), workers);
    assertThat(workers.takeLaunched()).containsExactly("g0-decode-0#7", "g0-decode-1#8");
    workers.ready("g0-decode-0");
    assertThat(pass(replica(2), workers).idle()).as("one new member is not ready yet").isTrue();
    workers.ready("g0-");
    pass(replica(2), workers);
    assertThat(workers.takeDrained()).containsExactly("g0-decode-0#2", "g0-decode-1#3");
    pass(replica(2), workers);
    assertThat(workers.takeLaunched()).containsExactly("g1-decode-0#9", "g1-decode-1#10");
  }

  @Test
  void aGroupRolledOrReplacedWholeIsANewGangAndAPartialRollJoinsTheGangThatStays() {
    InMemoryWorkers workers = new InMemoryWorkers();
    WorkerReconciler.Plan first = pass(replica(1), workers);
    assertThat(first.create()).extracting(first::gang).containsOnly("g0");
    workers.ready("");

    // only the decode workers change: the new ones pair with the prefill that stays
    workers.revision(Role.DECODE, "r2");
    WorkerReconciler.Plan partial = pass(replica(1), workers);
    assertThat(partial.create()).hasSize(2).extracting(partial::gang).containsOnly("g0");
    workers.ready("");
    pass(replica(1), workers);

    // a new model changes every member: the new gang must not pair with the old one
    workers.revision(Role.DECODE, "r3").revision(Role.PREFILL, "r3");
    WorkerReconciler.Plan whole = pass(replica(1), workers);
    assertThat(whole.create()).hasSize(3).extracting(whole::gang).containsOnly("g0.1");
    workers.ready("");
    pass(replica(1), workers);
    assertThat(workers.observe()).extracting(LaunchBackend.Observed::gang).containsOnly("g0.1");

    // a lost member: the group is replaced by the next gang (numbering read from what runs)
    workers.lose("g0-prefill-0");
    WorkerReconciler.Plan replaced = pass(replica(1), workers);
    assertThat(replaced.create()).hasSize(3).extracting(replaced::gang).containsOnly("g0.2");
  }
}
