package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The local fleet without processes: desired workers from the sizes, instances, restarts. */
class FleetTest {

  private static ClusterSpec spec(String mode, String roles) {
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\nmode: " + mode + "\n" + roles, "test");
  }

  private static WorkerPlan.Launch plan(WorkerSlot w) {
    return new WorkerPlan.Launch(List.of("run", w.id), java.util.Map.of());
  }

  private static List<String> ids(List<WorkerIdentity> workers) {
    return workers.stream().map(WorkerIdentity::id).toList();
  }

  @Test
  void poolSizesGiveTheDesiredWorkersAndEachInstanceItsOwnNameAndPorts() {
    ClusterSpec spec =
        spec("pool", "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2, max: 4}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    assertThat(ids(fleet.desiredWorkers(spec)))
        .containsExactly("prefill-0", "decode-0", "decode-1");
    fleet.desired(Role.DECODE, 3);
    assertThat(ids(fleet.desiredWorkers(spec))).endsWith("decode-1", "decode-2").hasSize(4);

    WorkerIdentity decode0 = WorkerIdentity.of(Role.DECODE, null, 0);
    WorkerSlot a = fleet.newWorker(spec, decode0, FleetTest::plan);
    WorkerSlot b = fleet.newWorker(spec, decode0, FleetTest::plan); // a rolling replacement
    assertThat(a.id).isEqualTo(b.id).isEqualTo("decode-0");
    assertThat(a.instance).isNotEqualTo(b.instance);
    assertThat(a.port).isNotEqualTo(b.port);
    assertThat(fleet.instance(b.instance)).isSameAs(b);
    fleet.remove(a);
    assertThat(fleet.all()).containsExactly(b);
  }

  @Test
  void replicaSizesAreWholeGroupsAndAReplacementInheritsTheRestartBackoff() {
    ClusterSpec spec =
        spec(
            "replica",
            "groups: {replicas: 1, max: 3}\nroles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    fleet.desiredGroups(2);
    List<WorkerIdentity> desired = fleet.desiredWorkers(spec);
    assertThat(ids(desired))
        .containsExactly(
            "g0-prefill-0",
            "g1-prefill-0",
            "g0-decode-0",
            "g0-decode-1",
            "g1-decode-0",
            "g1-decode-1");
    List<WorkerSlot> slots =
        desired.stream().map(w -> fleet.newWorker(spec, w, FleetTest::plan)).toList();
    slots.forEach(w -> w.phase = Phase.READY);
    assertThat(fleet.readyIn("groups")).isEqualTo(2);
    assertThat(fleet.readyIn("decode")).isEqualTo(4);

    WorkerSlot failed = slots.get(2);
    failed.restartAt = java.time.Instant.now().plusSeconds(5);
    failed.backoffSeconds = 2;
    fleet.failed(failed);
    WorkerSlot next = fleet.newWorker(spec, failed.identity(), FleetTest::plan);
    assertThat(next.restarts).isEqualTo(1);
    assertThat(next.restartAt).isEqualTo(failed.restartAt);
    assertThat(next.backoffSeconds).isEqualTo(2);
    assertThat(next.waitingForBackoff()).isTrue();
    assertThat(fleet.newWorker(spec, slots.get(0).identity(), FleetTest::plan).restarts).isZero();
  }

  /**
   * Ports are picked below the kernel's ephemeral range, so no worker's own "*" sockets (KV events,
   * KV channel) or outgoing connections can take the port picked for a worker not started yet; a
   * replacement keeps its port unless something else holds it now.
   */
  @Test
  void portsComeFromBelowTheEphemeralRangeAndAReplacementLeavesATakenPort() throws Exception {
    int ephemeralStart = PortPicker.ephemeralRangeStart();
    org.junit.jupiter.api.Assumptions.assumeTrue(ephemeralStart > 1024, "a Linux port range");
    ClusterSpec spec = spec("pool", "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 3}\n");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    List<WorkerSlot> slots =
        fleet.desiredWorkers(spec).stream()
            .map(w -> fleet.newWorker(spec, w, FleetTest::plan))
            .toList();
    assertThat(slots)
        .extracting(w -> w.port)
        .doesNotHaveDuplicates()
        .allSatisfy(
            port ->
                assertThat(port)
                    .isBetween(PortPicker.belowEphemeralRange().low(), ephemeralStart - 1));
    assertThat(fleet.freePort("127.0.0.1")).isLessThan(ephemeralStart);

    WorkerSlot failed = slots.get(1);
    fleet.failed(failed);
    fleet.remove(failed);
    WorkerSlot again = fleet.newWorker(spec, failed.identity(), FleetTest::plan);
    assertThat(again.port).as("the same port while it is free").isEqualTo(failed.port);

    fleet.failed(again);
    fleet.remove(again);
    try (java.net.ServerSocket squatter = new java.net.ServerSocket()) {
      squatter.setReuseAddress(false);
      squatter.bind(new java.net.InetSocketAddress("127.0.0.1", again.port));
      WorkerSlot third = fleet.newWorker(spec, failed.identity(), FleetTest::plan);
      assertThat(third.port)
          .as("a new port once another process holds it")
          .isNotEqualTo(again.port);
    }
  }

  @Test
  void onlyTheFirstStopCounts() {
    Fleet fleet = new Fleet();
    assertThat(fleet.stop()).isTrue();
    assertThat(fleet.stop()).isFalse();
    assertThat(fleet.stopping()).isTrue();
  }

  @Test
  void urlsUseLoopbackForTheWildcardAddress() {
    assertThat(Fleet.hostForUrl("0.0.0.0")).isEqualTo("127.0.0.1");
    assertThat(Fleet.hostForUrl("::1")).isEqualTo("[::1]");
    assertThat(Fleet.hostForUrl("10.0.0.2")).isEqualTo("10.0.0.2");
  }
}
