package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.core.Role;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** cpuPinning without processes: CPU lists, the division into slots, the spec rules, the plan. */
class CpuPinningTest {

  @Test
  void linuxCpuListsParseAndFormatBothWays() {
    assertThat(CpuPinning.parseList("0-3,8-11\n")).containsExactly(0, 1, 2, 3, 8, 9, 10, 11);
    assertThat(CpuPinning.parseList("5")).containsExactly(5);
    assertThat(CpuPinning.parseList(" 2,0-1 ")).containsExactly(0, 1, 2);
    assertThat(CpuPinning.format(List.of(0, 1, 2, 3, 8, 9, 10, 11))).isEqualTo("0-3,8-11");
    assertThat(CpuPinning.format(List.of(7, 5, 1))).isEqualTo("1,5,7");
    assertThat(CpuPinning.format(List.of(4))).isEqualTo("4");
    for (String bad : List.of("", "a", "3-1", "1-", "-1", "0-7:2")) {
      assertThatThrownBy(() -> CpuPinning.parseList(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void coresAreDividedEvenlyIntoDisjointRunsAndTheRemainderStaysUnused() {
    List<Integer> cores = CpuPinning.parseList("0-3,8-11");
    assertThat(CpuPinning.divide(cores, 2, "x"))
        .containsExactly(List.of(0, 1, 2, 3), List.of(8, 9, 10, 11));
    assertThat(CpuPinning.divide(cores, 3, "x"))
        .containsExactly(List.of(0, 1), List.of(2, 3), List.of(8, 9));
    assertThat(CpuPinning.divide(List.of(0, 1), 2, "x")).containsExactly(List.of(0), List.of(1));
    assertThatThrownBy(() -> CpuPinning.divide(List.of(0, 1), 3, "prefill.max 1 + decode.max 2"))
        .hasMessageContaining("can run 3 workers at once (prefill.max 1 + decode.max 2)")
        .hasMessageContaining("only 2 core(s) (0-1)");
  }

  @Test
  void thisProcessesAllowedCoresAreReadFromProc() {
    List<Integer> cores = CpuPinning.allowedCores();
    assertThat(cores).isNotEmpty().doesNotHaveDuplicates().isSorted();
    assertThat(cores).hasSizeLessThanOrEqualTo(Math.max(cores.getLast() + 1, 1));
    // The JVM sees the same affinity mask (it reads sched_getaffinity).
    assertThat(cores).hasSize(Runtime.getRuntime().availableProcessors());
  }

  @Test
  void pinningDividesByTheMostWorkersTheSpecCanRunAndMaxDefaultsToReplicas() {
    ClusterSpec pool =
        SpecParser.parse(
            "model: random:tiny\ncpuPinning: true\nroles:\n  prefill: {replicas: 1}\n"
                + "  decode: {replicas: 2, max: 3}\n  both: {replicas: 1}\n",
            "t");
    assertThat(pool.cpuPinning()).isTrue();
    assertThat(pool.roles().get(Role.PREFILL).max()).as("max defaults to replicas").isEqualTo(1);
    assertThat(CpuPinning.peakWorkers(pool)).isEqualTo(5);
    ClusterSpec unpinned =
        SpecParser.parse("model: random:tiny\nroles:\n  decode: {replicas: 1}\n", "t");
    assertThat(unpinned.cpuPinning()).isFalse();
    assertThat(unpinned.roles().get(Role.DECODE).max()).isEqualTo(SpecParser.DEFAULT_MAX);
    ClusterSpec replica =
        SpecParser.parse(
            "model: random:tiny\nmode: replica\ncpuPinning: true\ngroups: {replicas: 1, max: 2}\n"
                + "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 2}\n",
            "t");
    assertThat(CpuPinning.peakWorkers(replica)).isEqualTo(6);
  }

  @Test
  void theSpecRefusesThreadsFlagsThatPinningSetsAndANonBooleanValue() {
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    "model: random:tiny\ncpuPinning: true\nengine: {args: [--threads, '2']}\n"
                        + "roles:\n  decode: {replicas: 1, args: [--threads, '1']}\n",
                    "t"))
        .hasMessageContaining("engine.args: --threads is set per worker by cpuPinning")
        .hasMessageContaining("roles.decode.args: --threads is set per worker by cpuPinning");
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    "model: random:tiny\ncpuPinning: yes please\nroles:\n  decode: {}\n", "t"))
        .hasMessageContaining("cpuPinning");
  }

  @Test
  void aPinnedWorkerRunsUnderTasksetWithThreadsMatchingItsCores() {
    ClusterSpec spec =
        SpecParser.parse(
            "model: random:tiny\ncpuPinning: true\nroles:\n  prefill: {replicas: 1}\n"
                + "  decode:\n    replicas: 1\n    engine: baton\n",
            "t");
    WorkerPlan.Launch launch = plan(spec, Role.DECODE, new WorkerPlan.Pin(List.of(2, 3), "/t"));
    assertThat(launch.command().subList(0, 4)).containsExactly("/t", "-c", "2-3", "java");
    assertThat(launch.command().subList(launch.command().size() - 2, launch.command().size()))
        .containsExactly("--threads", "2");
    assertThat(plan(spec, Role.DECODE, null).command()).doesNotContain("/t", "--threads");
  }

  @Test
  void anExternalEngineGetsCpusAndThreadsPlaceholdersAndIsPinnedToo() {
    ClusterSpec spec =
        SpecParser.parse(
            "model: random:tiny\ncpuPinning: true\nroles:\n  decode:\n    replicas: 1\n"
                + "    engine: vllm\n    command: [env, 'VLLM_CPU_OMP_THREADS_BIND={cpus}',"
                + " vllm, serve, '{model}', --port, '{port}', --threads-hint, '{threads}']\n",
            "t");
    WorkerPlan.Launch launch = plan(spec, Role.DECODE, new WorkerPlan.Pin(List.of(4, 5, 6), "/t"));
    assertThat(launch.command())
        .startsWith("/t", "-c", "4-6", "env", "VLLM_CPU_OMP_THREADS_BIND=4-6")
        .endsWith("--threads-hint", "3")
        .containsOnlyOnce("--threads-hint");
    assertThatThrownBy(() -> plan(spec, Role.DECODE, null))
        .hasMessageContaining("placeholder {cpus} has no value");
  }

  @Test
  void workersTakeTheLeastUsedCoreSlotAndFreeItWhenRemoved() {
    ClusterSpec spec =
        SpecParser.parse(
            "model: random:tiny\ncpuPinning: true\nroles:\n  prefill: {replicas: 1}\n"
                + "  decode: {replicas: 1, max: 2}\n",
            "t");
    Fleet fleet = new Fleet();
    fleet.pinning(
        new CpuPinning.Layout(CpuPinning.divide(List.of(0, 1, 2), 3, "x"), "/usr/bin/taskset"));
    fleet.resetDesired(spec);
    List<WorkerSlot> first =
        fleet.desiredWorkers(spec).stream()
            .map(id -> fleet.newWorker(spec, id, w -> plan(spec, w.role, null)))
            .toList();
    assertThat(first).extracting(w -> w.cores).containsExactly(List.of(0), List.of(1));
    WorkerSlot third =
        fleet.newWorker(
            spec, WorkerIdentity.of(Role.DECODE, null, 1), w -> plan(spec, w.role, null));
    assertThat(third.cores).isEqualTo(List.of(2));
    // A rolling update's replacement shares a slot until the old worker leaves.
    WorkerSlot replacement =
        fleet.newWorker(
            spec, WorkerIdentity.of(Role.PREFILL, null, 0), w -> plan(spec, w.role, null));
    assertThat(replacement.cores).isEqualTo(List.of(0));
    fleet.remove(first.get(1));
    WorkerSlot next =
        fleet.newWorker(
            spec, WorkerIdentity.of(Role.DECODE, null, 1), w -> plan(spec, w.role, null));
    assertThat(next.cores).as("the freed slot is taken first").isEqualTo(List.of(1));
  }

  private static WorkerPlan.Launch plan(ClusterSpec spec, Role role, WorkerPlan.Pin pin) {
    return WorkerPlan.worker(
        spec,
        new Toolchain("java", List.of(), "cp"),
        "/m.gguf",
        role,
        null,
        role.wireName() + "-0",
        new WorkerPlan.Ports(8100, 0, 8200),
        -1,
        pin,
        Path.of("/run/s"),
        "secret",
        Path.of("/run"));
  }
}
