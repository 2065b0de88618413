package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.WorkerSlot.Phase;
import dev.baton.testkit.FakeWorker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One worker's lifecycle steps with real processes (the FakeWorker stand-in). */
class WorkerLifecycleTest {

  @TempDir Path logs;
  private final List<WorkerSlot> started = new ArrayList<>();

  @AfterEach
  void killEverything() {
    for (WorkerSlot w : started) {
      if (w.process != null) {
        w.process.kill();
      }
    }
  }

  private static ClusterSpec spec() {
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\n"
            + "supervision: {readyTimeoutSeconds: 30, restartBackoffSeconds: 0.5,"
            + " maxRestartBackoffSeconds: 4, drainTimeoutSeconds: 5}\n"
            + "roles:\n  both: {replicas: 1}\n",
        "test");
  }

  private WorkerSlot slot(Fleet fleet, ClusterSpec spec, String... extraArgs) {
    Toolchain java = Toolchain.current();
    WorkerSlot w =
        fleet.newWorker(
            spec,
            WorkerIdentity.of(dev.baton.core.Role.BOTH, null, 0),
            s -> {
              List<String> cmd =
                  new ArrayList<>(
                      java.javaMain(
                          FakeWorker.class.getName(),
                          List.of("-Xmx64m", "-XX:TieredStopAtLevel=1")));
              cmd.addAll(List.of("--port", Integer.toString(s.port), "--role", "both"));
              cmd.addAll(List.of(extraArgs));
              return new WorkerPlan.Launch(cmd, Map.of());
            });
    started.add(w);
    return w;
  }

  @Test
  void aWorkerThatCannotStartGoesToBackoffWithItsReasonAndItsReplacementWaitsItOut()
      throws Exception {
    ClusterSpec spec = spec();
    Fleet fleet = new Fleet();
    AtomicInteger publishes = new AtomicInteger();
    WorkerLifecycle lifecycle =
        new WorkerLifecycle(
            fleet,
            new LocalProcessLauncher(),
            () -> null,
            () -> spec,
            logs,
            publishes::incrementAndGet);
    WorkerSlot w = slot(fleet, spec, "--fail-start");
    Instant before = Instant.now();
    assertThat(lifecycle.bringUp(w)).isFalse();
    assertThat(w.phase).isEqualTo(Phase.BACKOFF);
    assertThat(w.lastError).contains("exited with code 3 while starting");
    assertThat(w.restartAt).isAfter(before);
    assertThat(w.backoffSeconds).as("backoff doubles for the next failure").isEqualTo(1.0);
    assertThat(Files.readString(lifecycle.logFile(w.id))).contains("refusing to start");
    assertThat(publishes.get()).isPositive();
    // its replacement (the reconciler launches one) waits out the backoff and counts a restart
    WorkerSlot next = slot(fleet, spec, "--fail-start");
    assertThat(next.restarts).isEqualTo(1);
    assertThat(next.waitingForBackoff()).isTrue();
  }

  @Test
  void drainingAnUnregisteredWorkerStopsItAndFreesItsSlot() throws Exception {
    ClusterSpec spec = spec();
    Fleet fleet = new Fleet();
    WorkerLifecycle lifecycle =
        new WorkerLifecycle(
            fleet, new LocalProcessLauncher(), () -> null, () -> spec, logs, () -> {});
    WorkerSlot w = slot(fleet, spec);
    w.process =
        new LocalProcessLauncher()
            .launch(
                new ProcessLauncher.LaunchRequest(
                    w.id, w.launch.command(), w.launch.env(), lifecycle.logFile(w.id)));
    assertThat(
            Polling.waitFor(
                () -> Http.healthy(w.url + "/health", MetricsScraper.TIMEOUT),
                w.process::isAlive,
                java.time.Duration.ofSeconds(30)))
        .isTrue();
    lifecycle.drain(w);
    assertThat(w.phase).isEqualTo(Phase.STOPPED);
    assertThat(w.process.isAlive()).isFalse();
    assertThat(fleet.all()).isEmpty();
  }
}
