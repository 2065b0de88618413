package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local backend's view under the shared {@link WorkerReconciler}, pass by pass, side by side
 * with the in-memory backend: the same decisions from the same world. The background steps a launch
 * or drain starts (processes, health waits) are held, not run; the test sets each instance's phase
 * as the supervisor's health checks and {@link WorkerLifecycle} would. The processes themselves run
 * in {@code LocalClusterIT}.
 */
class ProcessBackendTest {

  @TempDir Path logs;

  /** Keeps the submitted background steps without running them. */
  static final class HeldTasks extends AbstractExecutorService {
    final List<Runnable> held = new ArrayList<>();

    @Override
    public void execute(Runnable command) {
      held.add(command);
    }

    @Override
    public void shutdown() {}

    @Override
    public List<Runnable> shutdownNow() {
      return held;
    }

    @Override
    public boolean isShutdown() {
      return false;
    }

    @Override
    public boolean isTerminated() {
      return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return true;
    }
  }

  private static ClusterSpec spec(String decodeSeqs) {
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\nmode: replica\ngroups: {replicas: 2}\n"
            + "roles:\n  prefill: {replicas: 1}\n"
            + "  decode: {replicas: 1, args: [--max-num-seqs, \""
            + decodeSeqs
            + "\"]}\n",
        "test");
  }

  private static List<String> decisions(WorkerReconciler.Plan plan) {
    List<String> out = new ArrayList<>();
    plan.create().forEach(w -> out.add("launch " + w.id() + " in " + plan.gang(w)));
    plan.drain().forEach(o -> out.add("drain " + o.worker().id()));
    return out;
  }

  @Test
  void processesGetTheSameDecisionsAsTheInMemoryBackendThroughGangReplaceAndARoll() {
    AtomicReference<ClusterSpec> spec = new AtomicReference<>(spec("8"));
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec.get());
    HeldTasks tasks = new HeldTasks();
    WorkerLifecycle lifecycle =
        new WorkerLifecycle(
            fleet, new LocalProcessLauncher(), () -> null, spec::get, logs, () -> {});
    ProcessBackend local =
        new ProcessBackend(
            fleet,
            lifecycle,
            tasks,
            spec::get,
            w ->
                WorkerPlan.worker(
                    spec.get(),
                    new Toolchain("java", List.of(), "cp"),
                    "/m.gguf",
                    w.role,
                    w.group,
                    w.id,
                    new WorkerPlan.Ports(w.port, w.bootstrapPort, w.sideChannelPort),
                    w.gpu,
                    null,
                    Path.of("/run/s"),
                    "secret",
                    Path.of("/run")));
    InMemoryWorkers memory = new InMemoryWorkers();
    Runnable allReady =
        () -> {
          fleet.all().stream()
              .filter(w -> w.phase == Phase.STARTING)
              .forEach(w -> w.phase = Phase.READY);
          memory.ready("");
        };

    List<String> first = pass(spec.get(), fleet, local, memory);
    assertThat(first).hasSize(4).allMatch(d -> d.startsWith("launch "));
    assertThat(tasks.held).as("each launch brings its process up in the background").hasSize(4);
    assertThat(fleet.all()).extracting(w -> w.port).doesNotHaveDuplicates();
    assertThat(pass(spec.get(), fleet, local, memory)).as("starting: waited for").isEmpty();
    allReady.run();
    assertThat(pass(spec.get(), fleet, local, memory)).isEmpty();

    // a worker fails its health checks (WorkerLifecycle.failed): its whole group is replaced
    WorkerSlot failed =
        fleet.all().stream().filter(w -> w.id.equals("g1-decode-0")).findFirst().orElseThrow();
    lifecycle.failed(failed, "failed 3 health checks in a row");
    memory.fail("g1-decode-0");
    assertThat(pass(spec.get(), fleet, local, memory))
        .containsExactlyInAnyOrder(
            "drain g1-decode-0",
            "drain g1-prefill-0",
            "launch g1-prefill-0 in g1.1",
            "launch g1-decode-0 in g1.1");
    // the failed one (already stopped) left at once, and its replacement has its port again; the
    // survivor drains in the background
    assertThat(fleet.all()).doesNotContain(failed);
    assertThat(fleet.all())
        .filteredOn(w -> w.id.equals("g1-decode-0"))
        .singleElement()
        .satisfies(w -> assertThat(w.port).isEqualTo(failed.port))
        .satisfies(w -> assertThat(w.restarts).isEqualTo(1))
        .satisfies(w -> assertThat(w.info(spec.get()).group()).as("a new gang").isEqualTo("g1.1"));
    assertThat(fleet.all()).filteredOn(w -> w.phase == Phase.DRAINING).hasSize(1);
    fleet.all().stream().filter(w -> w.phase == Phase.DRAINING).forEach(fleet::remove);
    allReady.run();

    // a changed decode flag: the local plan differs from what runs; one group at a time, surge
    spec.set(spec("16"));
    memory.revision(Role.DECODE, "r2");
    assertThat(pass(spec.get(), fleet, local, memory)).containsExactly("launch g0-decode-0 in g0");
    assertThat(fleet.all()).filteredOn(w -> w.id.equals("g0-decode-0")).hasSize(2);
    assertThat(pass(spec.get(), fleet, local, memory)).isEmpty();
    allReady.run();
    assertThat(pass(spec.get(), fleet, local, memory)).containsExactly("drain g0-decode-0");
    assertThat(pass(spec.get(), fleet, local, memory))
        .containsExactly("launch g1-decode-0 in g1.1");
  }

  /** One pass on each backend; both must decide the same. */
  private static List<String> pass(
      ClusterSpec spec, Fleet fleet, ProcessBackend local, InMemoryWorkers memory) {
    List<String> onProcesses =
        decisions(WorkerReconciler.reconcile(spec.mode(), fleet.desiredWorkers(spec), local));
    List<String> inMemory =
        decisions(WorkerReconciler.reconcile(spec.mode(), WorkerIdentity.desired(spec), memory));
    assertThat(onProcesses)
        .as("the local backend decides as the in-memory one")
        .isEqualTo(inMemory);
    return onProcesses;
  }
}
