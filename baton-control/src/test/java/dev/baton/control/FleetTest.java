package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Desired vs observed without processes: what the reconcile loop starts and drains. */
class FleetTest {

  private static ClusterSpec spec(String mode, String roles) {
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\nmode: " + mode + "\n" + roles, "test");
  }

  private static WorkerPlan.Launch plan(WorkerSlot w) {
    return new WorkerPlan.Launch(List.of("run", w.id), java.util.Map.of());
  }

  private static void allReady(List<WorkerSlot> workers) {
    workers.forEach(w -> w.phase = Phase.READY);
  }

  @Test
  void poolModeCreatesWhatIsMissingAndDrainsNewestUnreadyFirst() {
    ClusterSpec spec =
        spec("pool", "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2, max: 4}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    List<WorkerSlot> created = fleet.createMissing(spec, FleetTest::plan);
    assertThat(created).extracting(w -> w.id).containsExactly("prefill-0", "decode-0", "decode-1");
    assertThat(created).extracting(w -> w.port).doesNotHaveDuplicates();
    assertThat(fleet.createMissing(spec, FleetTest::plan)).as("nothing more to create").isEmpty();
    assertThat(fleet.converged(spec)).as("starting workers are not converged").isFalse();
    allReady(created);
    assertThat(fleet.converged(spec)).isTrue();

    fleet.desired(Role.DECODE, 4);
    List<WorkerSlot> more = fleet.createMissing(spec, FleetTest::plan);
    assertThat(more).extracting(w -> w.id).containsExactly("decode-2", "decode-3");
    more.getLast().phase = Phase.READY; // decode-3 ready, decode-2 still starting

    fleet.desired(Role.DECODE, 2);
    List<WorkerSlot> surplus = fleet.pickSurplus(spec);
    assertThat(surplus).extracting(w -> w.id).containsExactly("decode-2", "decode-3");
    assertThat(surplus).allMatch(w -> w.phase == Phase.DRAINING);
    surplus.forEach(fleet::remove);
    assertThat(fleet.all())
        .extracting(w -> w.id)
        .containsExactly("prefill-0", "decode-0", "decode-1");
  }

  @Test
  void replicaModeScalesWholeGroups() {
    ClusterSpec spec =
        spec(
            "replica",
            "groups: {replicas: 1, max: 3}\nroles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    List<WorkerSlot> g0 = fleet.createMissing(spec, FleetTest::plan);
    assertThat(g0)
        .extracting(w -> w.id)
        .containsExactly("g0-prefill-0", "g0-decode-0", "g0-decode-1");
    allReady(g0);
    fleet.desiredGroups(2);
    List<WorkerSlot> g1 = fleet.createMissing(spec, FleetTest::plan);
    assertThat(g1).extracting(w -> w.group).containsOnly("g1").hasSize(3);
    allReady(g1);
    assertThat(fleet.activeGroups()).containsExactly(0, 1);
    assertThat(fleet.readyIn("groups")).isEqualTo(2);

    fleet.desiredGroups(1);
    assertThat(fleet.pickSurplus(spec)).extracting(w -> w.group).containsOnly("g1").hasSize(3);
    assertThat(fleet.activeGroups()).containsExactly(0);
  }

  @Test
  void nothingIsReconciledWhileRollingOrStopping() {
    ClusterSpec spec = spec("pool", "roles:\n  both: {replicas: 2}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    fleet.rolling(true);
    assertThat(fleet.createMissing(spec, FleetTest::plan)).isEmpty();
    fleet.rolling(false);
    assertThat(fleet.createMissing(spec, FleetTest::plan)).hasSize(2);
    assertThat(fleet.stop()).isTrue();
    assertThat(fleet.stop()).as("only the first stop counts").isFalse();
    fleet.desired(Role.BOTH, 0);
    assertThat(fleet.pickSurplus(spec)).isEmpty();
  }

  @Test
  void urlsUseLoopbackForTheWildcardAddress() {
    assertThat(Fleet.hostForUrl("0.0.0.0")).isEqualTo("127.0.0.1");
    assertThat(Fleet.hostForUrl("::1")).isEqualTo("[::1]");
    assertThat(Fleet.hostForUrl("10.0.0.2")).isEqualTo("10.0.0.2");
  }
}
