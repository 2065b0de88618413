package dev.baton.control;

import dev.baton.control.ProcessLauncher.LaunchRequest;
import dev.baton.control.ProcessLauncher.Launched;
import dev.baton.control.WorkerSlot.Phase;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Brings one worker up (launch, wait for health, register with the gateway), takes a failed one out
 * of traffic with a restart backoff, and drains one (deregister, let in-flight requests finish,
 * stop). Works through a {@link ProcessLauncher}, so the same steps serve local processes and pods.
 */
final class WorkerLifecycle {

  private static final Logger LOG = Logger.getLogger(WorkerLifecycle.class.getName());

  static final Duration STOP_GRACE = Duration.ofSeconds(5);

  private final Fleet fleet;
  private final ProcessLauncher backend;
  private final Supplier<GatewayAdmin> admin;
  private final Supplier<ClusterSpec> spec;
  private final Path logs;
  private final Runnable publish;

  WorkerLifecycle(
      Fleet fleet,
      ProcessLauncher backend,
      Supplier<GatewayAdmin> admin,
      Supplier<ClusterSpec> spec,
      Path logs,
      Runnable publish) {
    this.fleet = fleet;
    this.backend = backend;
    this.admin = admin;
    this.spec = spec;
    this.logs = logs;
    this.publish = publish;
  }

  Path logFile(String id) {
    return logs.resolve(id + ".log");
  }

  /**
   * Launches a worker, waits until it is healthy and registers it with the gateway. Returns {@code
   * false} (with the worker in backoff) when any step fails.
   */
  boolean bringUp(WorkerSlot w) {
    WorkerPlan.Launch launch;
    synchronized (fleet.lock) {
      if (fleet.stopping() || w.phase == Phase.DRAINING || w.phase == Phase.STOPPED) {
        return false;
      }
      w.phase = Phase.STARTING;
      w.failures = 0;
      launch = w.launch;
    }
    ClusterSpec s = spec.get();
    try {
      Launched process =
          backend.launch(new LaunchRequest(w.id, launch.command(), launch.env(), logFile(w.id)));
      synchronized (fleet.lock) {
        w.process = process;
        if (w.phase != Phase.STARTING || fleet.stopping()) {
          // drained or shut down while launching: do not leave this process behind
          process.kill();
          return false;
        }
      }
      publish.run();
      boolean healthy =
          Polling.waitFor(
              () -> Http.healthy(w.url + "/health", MetricsScraper.TIMEOUT),
              () -> process.isAlive() && !fleet.stopping() && w.phase == Phase.STARTING,
              Polling.seconds(s.supervision().readyTimeoutSeconds()));
      if (!healthy) {
        failed(
            w,
            process.isAlive()
                ? "not healthy within " + s.supervision().readyTimeoutSeconds() + " s"
                : "exited with code " + process.exitCode() + " while starting");
        return false;
      }
      admin.get().register(w.info(s));
      synchronized (fleet.lock) {
        if (w.phase != Phase.STARTING) {
          return false; // drained or stopped meanwhile; drain deregisters it
        }
        w.registered = true;
        w.phase = Phase.READY;
        w.readySince = Instant.now();
      }
      LOG.info("worker " + w.instance + " ready at " + w.url);
      publish.run();
      return true;
    } catch (IOException | RuntimeException e) {
      failed(w, e.getMessage());
      return false;
    }
  }

  /**
   * Takes a failed worker out of traffic and stops it; its replacement (the reconciler launches
   * one) waits out the backoff.
   */
  void failed(WorkerSlot w, String reason) {
    boolean deregister;
    Launched process;
    synchronized (fleet.lock) {
      if (w.phase == Phase.DRAINING || w.phase == Phase.STOPPED) {
        return;
      }
      w.lastError = reason;
      deregister = w.registered;
      w.registered = false;
      process = w.process;
      w.phase = Phase.BACKOFF;
      w.restartAt = Instant.now().plus(Polling.seconds(w.backoffSeconds));
      w.backoffSeconds =
          Math.min(w.backoffSeconds * 2, spec.get().supervision().maxRestartBackoffSeconds());
      fleet.failed(w);
    }
    LOG.warning("worker " + w.instance + " failed: " + reason + "; replaced after backoff");
    if (deregister) {
      deregisterQuietly(w);
    }
    if (process != null && process.isAlive()) {
      process.kill();
    }
    publish.run();
  }

  /**
   * Drains a worker: the gateway stops routing to it, in-flight requests and live KV leases finish
   * ({@link WorkerDrain}, bounded by the drain timeout), then it stops and leaves the fleet.
   */
  void drain(WorkerSlot w) {
    boolean deregister;
    synchronized (fleet.lock) {
      w.phase = Phase.DRAINING;
      deregister = w.registered;
      w.registered = false;
    }
    if (deregister) {
      deregisterQuietly(w);
    }
    Launched process = w.process;
    if (process != null && process.isAlive() && deregister) {
      double timeout = spec.get().supervision().drainTimeoutSeconds();
      Instant deadline = Instant.now().plus(Polling.seconds(timeout));
      if (!WorkerDrain.awaitIdle(w.url, deadline, process::isAlive) && process.isAlive()) {
        WorkerDrain.Load left = WorkerDrain.load(w.url);
        LOG.warning(
            "worker "
                + w.instance
                + " still busy after the drain timeout ("
                + timeout
                + " s): "
                + (left == null
                    ? "its metrics cannot be read"
                    : left.running()
                        + " running, "
                        + left.waiting()
                        + " waiting, "
                        + left.leases()
                        + " KV leases")
                + "; stopping it anyway");
      }
    }
    if (process != null) {
      process.stop(STOP_GRACE);
    }
    synchronized (fleet.lock) {
      w.phase = Phase.STOPPED;
    }
    fleet.remove(w);
    LOG.info("worker " + w.instance + " drained and stopped");
    publish.run();
  }

  private void deregisterQuietly(WorkerSlot w) {
    try {
      admin.get().deregister(w.info(spec.get()));
    } catch (IOException | RuntimeException e) {
      LOG.warning("could not deregister " + w.id + ": " + e.getMessage());
    }
  }
}
