package dev.baton.control;

import dev.baton.control.WorkerSlot.Phase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The local {@link LaunchBackend}: a worker instance is a process ({@link WorkerSlot} in the {@link
 * Fleet}). A launch reserves the instance's ports (and GPU, core slot), plans its command line and
 * brings it up in the background ({@link WorkerLifecycle#bringUp}: start, wait for {@code /health},
 * register); a replacement of a failed worker waits out the worker's restart backoff first and
 * takes its ports again. A drain deregisters, waits for in-flight work and stops it in the
 * background (a failed instance, already stopped, at once); the instance leaves what {@link
 * #observe} reports at once. Readiness is the supervisor's {@code /health} checks.
 *
 * <p>An instance is at the current revision when planning it again under the current spec and model
 * (with its own ports) gives the command line it runs; otherwise it is outdated and rolled.
 */
final class ProcessBackend implements LaunchBackend {

  /** The revision of every instance whose command line matches the current plan. */
  static final String CURRENT = "current";

  static final String OUTDATED = "outdated";

  private final Fleet fleet;
  private final WorkerLifecycle lifecycle;
  private final ExecutorService tasks;
  private final Supplier<ClusterSpec> spec;
  private final Function<WorkerSlot, WorkerPlan.Launch> planner;

  ProcessBackend(
      Fleet fleet,
      WorkerLifecycle lifecycle,
      ExecutorService tasks,
      Supplier<ClusterSpec> spec,
      Function<WorkerSlot, WorkerPlan.Launch> planner) {
    this.fleet = fleet;
    this.lifecycle = lifecycle;
    this.tasks = tasks;
    this.spec = spec;
    this.planner = planner;
  }

  @Override
  public List<Observed> observe() {
    List<Observed> observed = new ArrayList<>();
    synchronized (fleet.lock) {
      for (WorkerSlot w : fleet.all()) {
        Health health =
            switch (w.phase) {
              case STARTING -> Health.STARTING;
              case READY -> Health.READY;
              case BACKOFF -> Health.FAILED;
              case DRAINING, STOPPED -> null; // leaving: no longer part of the cluster
            };
        if (health != null) {
          observed.add(new Observed(w.instance, w.identity(), revision(w), health, w.gang));
        }
      }
    }
    return observed;
  }

  /** Whether {@code w} still runs what the current spec and model would start. */
  String revision(WorkerSlot w) {
    return !spec.get().roles().containsKey(w.role) || planner.apply(w).equals(w.launch)
        ? CURRENT
        : OUTDATED;
  }

  @Override
  public String revision(WorkerIdentity worker) {
    return CURRENT;
  }

  @Override
  public void launch(WorkerIdentity worker, String gang) {
    WorkerSlot w;
    synchronized (fleet.lock) {
      w = fleet.newWorker(spec.get(), worker, planner);
      w.gang = gang;
    }
    tasks.submit(
        () -> {
          if (awaitBackoff(w)) {
            lifecycle.bringUp(w);
          }
        });
  }

  @Override
  public void drain(Observed instance) {
    WorkerSlot w;
    boolean failed;
    synchronized (fleet.lock) {
      w = fleet.instance(instance.instance());
      if (w == null || !w.active()) {
        return;
      }
      failed = w.phase == Phase.BACKOFF;
      w.phase = Phase.DRAINING; // out of observe() now
    }
    if (failed) {
      // already out of traffic and killed: removed at once, so its replacement, launched next
      // in this pass, gets its ports again
      lifecycle.drain(w);
    } else {
      tasks.submit(() -> lifecycle.drain(w));
    }
  }

  /**
   * Waits until the worker's restart backoff has passed; false when the instance left meanwhile.
   */
  private boolean awaitBackoff(WorkerSlot w) {
    while (true) {
      Instant at;
      synchronized (fleet.lock) {
        if (w.phase != Phase.STARTING || fleet.stopping()) {
          return false;
        }
        at = w.restartAt;
      }
      Duration left = at == null ? Duration.ZERO : Duration.between(Instant.now(), at);
      if (left.isNegative() || left.isZero()) {
        return true;
      }
      Polling.sleepQuietly(
          left.compareTo(Duration.ofMillis(200)) < 0 ? left : Duration.ofMillis(200));
    }
  }
}
