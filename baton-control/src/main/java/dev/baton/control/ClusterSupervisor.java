package dev.baton.control;

import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.ClusterSpec.SupervisionSettings;
import dev.baton.control.ClusterState.ProcessState;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.control.ProcessLauncher.Launched;
import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs one cluster as a reconcile loop: desired sizes (from the spec, {@code baton scale} or the
 * {@link Autoscaler}) against the observed worker processes in the {@link Fleet}. Each pass
 * supervises the gateway ({@link GatewaySupervisor}), health-checks ready workers (a failing one is
 * taken out of traffic), runs the {@link WorkerReconciler} the Kubernetes operator runs too, on the
 * local backend ({@link ProcessBackend}: replace what failed, a replica group whole; start what is
 * missing; drain what is too many; roll a changed spec, surge first), autoscales from scraped
 * metrics ({@link AutoscaleLoop}), and publishes its state ({@link StatePublisher}).
 */
public final class ClusterSupervisor implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(ClusterSupervisor.class.getName());

  /** A worker healthy this long has its restart backoff reset. */
  private static final Duration BACKOFF_RESET = Duration.ofSeconds(30);

  private final RunDirectory run;
  private final Toolchain toolchain;
  private final String secret;
  private final Fleet fleet = new Fleet();
  private final GatewaySupervisor gateway;
  private final RedisSupervisor redis;
  private final WorkerLifecycle lifecycle;
  private final ProcessBackend workers;

  /** Serializes reconcile passes: each observes, then launches and drains on what it saw. */
  private final Object passLock = new Object();

  private final StatePublisher publisher;
  private final ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor();
  private final AutoscaleLoop autoscaler;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile ClusterSpec spec;
  private volatile String model;
  private volatile String phase = "starting";
  private volatile String error;
  private ControlServer control;
  private Thread reconciler;

  /**
   * @param model the resolved model file (a random model already created)
   * @param secret the cluster's KV secret, also stored in {@code run.secretFile()}
   */
  public ClusterSupervisor(
      RunDirectory run,
      ClusterSpec spec,
      ProcessLauncher backend,
      Toolchain toolchain,
      String model,
      String secret) {
    this.run = run;
    this.spec = spec;
    this.toolchain = toolchain;
    this.model = model;
    this.secret = secret;
    this.publisher = new StatePublisher(run);
    this.autoscaler = new AutoscaleLoop(run.name());
    this.gateway = new GatewaySupervisor(run, backend, toolchain, fleet, this::spec);
    this.redis = new RedisSupervisor(run, backend, fleet);
    this.lifecycle =
        new WorkerLifecycle(
            fleet, backend, gateway::admin, this::spec, run.logs(), this::publishQuietly);
    this.workers = new ProcessBackend(fleet, lifecycle, tasks, this::spec, this::plan);
  }

  public ClusterSpec spec() {
    return spec;
  }

  public String gatewayUrl() {
    return gateway.url();
  }

  /**
   * Starts the control API, the gateway and every initial worker, and waits until all are ready and
   * registered. On failure everything started is stopped and the reason (with the failing process's
   * log tail) is thrown.
   */
  public void start() throws IOException {
    Files.createDirectories(run.logs());
    String token = run.secret(run.tokenFile());
    control = new ControlServer(this, token);
    publish();
    try {
      if (spec.cpuPinning()) {
        CpuPinning.Layout layout = CpuPinning.layout(spec);
        fleet.pinning(layout);
        LOG.info(
            "cpuPinning: "
                + layout.slots().size()
                + " worker slot(s) of "
                + layout.coresPerWorker()
                + " core(s): "
                + String.join(" ", layout.slots().stream().map(CpuPinning::format).toList()));
      }
      startKvCache();
      gateway.start();
      publish();
      fleet.resetDesired(spec);
      reconcileWorkers();
      awaitStarted();
      phase = "ready";
      publish();
      reconciler = Thread.ofPlatform().daemon().name("baton-reconciler").start(this::reconcileLoop);
      LOG.info("cluster " + run.name() + " ready; gateway at " + gatewayUrl());
    } catch (IOException | RuntimeException e) {
      error = e.getMessage();
      phase = "failed";
      publishQuietly();
      stopEverything();
      throw e;
    }
  }

  /** Waits until every initial worker is ready; the first one that fails fails the start. */
  private void awaitStarted() throws IOException {
    while (true) {
      WorkerSlot failed = null;
      synchronized (fleet.lock) {
        if (fleet.stopping()) {
          throw new IOException("stopped while starting");
        }
        for (WorkerSlot w : fleet.all()) {
          if (w.phase == Phase.BACKOFF && failed == null) {
            failed = w;
          }
        }
        if (failed == null && fleet.all().stream().allMatch(w -> w.phase == Phase.READY)) {
          return;
        }
      }
      if (failed != null) {
        throw new IOException(
            "worker "
                + failed.id
                + " did not become ready: "
                + failed.lastError
                + Polling.logTail(lifecycle.logFile(failed.id)));
      }
      Polling.sleepQuietly(Duration.ofMillis(50));
    }
  }

  /** Starts the local redis-server the spec asks for; its port goes into the workers' l2_url. */
  private void startKvCache() throws IOException {
    ClusterSpec.KvCacheSpec cache = spec.kvTransfer().cache();
    if (cache != null && cache.local()) {
      int port = redis.start(cache);
      ClusterSpec.KvTransferSpec kv = spec.kvTransfer();
      spec =
          spec.withKvTransfer(
              new ClusterSpec.KvTransferSpec(kv.connector(), kv.config(), cache.withPort(port)));
    }
  }

  /** Blocks until the cluster has been shut down (by {@code baton down} or {@link #close}). */
  public void awaitStopped() throws InterruptedException {
    stopped.await();
  }

  private WorkerPlan.Launch plan(WorkerSlot w) {
    return WorkerPlan.worker(
        spec,
        toolchain,
        model,
        w.role,
        w.group,
        w.id,
        new WorkerPlan.Ports(w.port, w.bootstrapPort, w.sideChannelPort),
        w.gpu,
        w.cores == null ? null : new WorkerPlan.Pin(w.cores, fleet.pinning().taskset()),
        run.secretFile(),
        secret,
        run.dir());
  }

  // ---------------------------------------------------------------- reconcile loop

  private void reconcileLoop() {
    while (!fleet.stopping()) {
      try {
        reconcileOnce();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "reconcile step failed", e);
      }
      Polling.sleepQuietly(Polling.seconds(spec.supervision().healthIntervalSeconds()));
    }
  }

  /** One pass: gateway, worker health, the worker reconcile, autoscaling, published state. */
  void reconcileOnce() {
    SupervisionSettings sup = spec.supervision();
    if (!fleet.stopping() && gateway.superviseOnce(this::registerReadyAgain)) {
      publishQuietly();
    }
    if (!fleet.stopping() && redis.running()) {
      redis.superviseOnce(spec.kvTransfer().cache(), sup.maxRestartBackoffSeconds());
    }
    checkReadyWorkers(sup);
    autoscale();
    reconcileWorkers();
    publishQuietly();
  }

  /** Health checks in parallel so one hung worker does not delay the others. */
  private void checkReadyWorkers(SupervisionSettings sup) {
    Map<WorkerSlot, Future<Boolean>> checks = new LinkedHashMap<>();
    for (WorkerSlot w : fleet.inPhase(Phase.READY)) {
      checks.put(
          w,
          tasks.submit(
              () ->
                  w.process.isAlive() && Http.healthy(w.url + "/health", MetricsScraper.TIMEOUT)));
    }
    for (Map.Entry<WorkerSlot, Future<Boolean>> e : checks.entrySet()) {
      WorkerSlot w = e.getKey();
      boolean ok;
      try {
        ok = e.getValue().get();
      } catch (Exception ex) {
        ok = false;
      }
      if (!w.process.isAlive()) {
        lifecycle.failed(w, "exited with code " + w.process.exitCode());
      } else if (!ok) {
        int failures;
        synchronized (fleet.lock) {
          failures = ++w.failures;
        }
        if (failures >= sup.failureThreshold()) {
          lifecycle.failed(w, "failed " + failures + " health checks in a row");
        }
      } else {
        synchronized (fleet.lock) {
          w.failures = 0;
          if (w.readySince != null
              && Duration.between(w.readySince, Instant.now()).compareTo(BACKOFF_RESET) > 0) {
            w.backoffSeconds = sup.restartBackoffSeconds();
          }
        }
      }
    }
  }

  /**
   * One pass of the shared worker reconcile over the local processes: failed workers replaced (a
   * replica group whole), missing ones started, surplus ones drained, a changed spec rolled.
   */
  private void reconcileWorkers() {
    synchronized (passLock) {
      if (fleet.stopping()) {
        return;
      }
      WorkerReconciler.Plan plan =
          WorkerReconciler.reconcile(spec.mode(), fleet.desiredWorkers(spec), workers);
      plan.reasons().forEach(r -> LOG.info(r));
    }
  }

  /** A restarted gateway knows only its config file: register every ready worker again. */
  private void registerReadyAgain() {
    List<WorkerSlot> ready = fleet.inPhase(Phase.READY);
    for (WorkerSlot w : ready) {
      try {
        gateway.admin().register(w.info(spec));
      } catch (IOException e) {
        lifecycle.failed(w, "could not re-register with the restarted gateway: " + e.getMessage());
      }
    }
    LOG.info("gateway restarted; " + ready.size() + " worker(s) registered again");
  }

  // ---------------------------------------------------------------- autoscaling

  private void autoscale() {
    Map<String, Integer> changes =
        autoscaler.decide(
            spec,
            new AutoscaleLoop.View() {
              @Override
              public int current(String unit) {
                return unit.equals("groups")
                    ? fleet.desiredGroups()
                    : fleet.desired(Role.parse(unit));
              }

              @Override
              public int ready(String unit) {
                return fleet.readyIn(unit);
              }

              @Override
              public List<WorkerMetrics> scrape() {
                return scrapeAll(fleet.inPhase(Phase.READY));
              }
            },
            Instant.now());
    changes.forEach(
        (unit, desired) -> {
          if (unit.equals("groups")) {
            fleet.desiredGroups(desired);
          } else {
            fleet.desired(Role.parse(unit), desired);
          }
        });
  }

  /** Scrapes workers in parallel; unreadable ones are left out. */
  private List<WorkerMetrics> scrapeAll(List<WorkerSlot> workers) {
    return MetricsScraper.scrapeAll(
        tasks, workers.stream().map(MetricsScraper.Target::of).toList());
  }

  // ---------------------------------------------------------------- control API operations

  /** Sets a pool role's desired replicas and waits until the pool matches it. */
  public String scaleRole(Role role, int replicas) throws InterruptedException {
    synchronized (fleet.lock) {
      RoleSpec r = spec.roles().get(role);
      if (r == null) {
        throw new IllegalArgumentException(
            "the cluster has no " + role.wireName() + " role (roles: " + roleNames() + ")");
      }
      if (spec.mode() == Mode.REPLICA && role != Role.BOTH) {
        throw new IllegalArgumentException(
            "replica mode scales whole groups: use --groups N (each group has "
                + spec.roles().get(Role.PREFILL).replicas()
                + " prefill + "
                + spec.roles().get(Role.DECODE).replicas()
                + " decode)");
      }
      checkBounds("roles." + role.wireName(), replicas, r.min(), r.max());
      fleet.desired(role, replicas);
      autoscaler.reset(role.wireName());
    }
    awaitConverged();
    return role.wireName()
        + " scaled to "
        + replicas
        + note(spec.roles().get(role).autoscale() != null);
  }

  /** Sets the number of xPyD groups (replica mode) and waits until it is reached. */
  public String scaleGroups(int groups) throws InterruptedException {
    synchronized (fleet.lock) {
      if (spec.mode() != Mode.REPLICA) {
        throw new IllegalArgumentException(
            "--groups is for replica mode; this cluster is in pool mode: use --role R --replicas N");
      }
      checkBounds("groups", groups, spec.groups().min(), spec.groups().max());
      fleet.desiredGroups(groups);
      autoscaler.reset("groups");
    }
    awaitConverged();
    return "scaled to " + groups + " group(s)" + note(spec.groups().autoscale() != null);
  }

  private static String note(boolean autoscaled) {
    return autoscaled ? " (autoscaling is on for it and may change this)" : "";
  }

  private static void checkBounds(String what, int n, int min, int max) {
    if (n < min || n > max) {
      throw new IllegalArgumentException(
          what + ": " + n + " is outside min..max (" + min + ".." + max + ") in the spec");
    }
  }

  private String roleNames() {
    return String.join(", ", spec.roles().keySet().stream().map(Role::wireName).toList());
  }

  /** Waits until every desired worker is ready and nothing is draining (or times out). */
  private void awaitConverged() throws InterruptedException {
    awaitConverged(1);
  }

  /**
   * Waits until every desired worker runs exactly one ready instance at the current revision and
   * nothing else runs; {@code steps} one-at-a-time steps (a start, or a roll's surge and drain) are
   * allowed for. A worker at the current revision that fails stops the wait with its reason.
   */
  private void awaitConverged(int steps) throws InterruptedException {
    reconcileSoon();
    SupervisionSettings sup = spec.supervision();
    Instant deadline =
        Instant.now()
            .plus(
                Polling.seconds(sup.readyTimeoutSeconds() + sup.drainTimeoutSeconds() + 10)
                    .multipliedBy(Math.max(1, steps)));
    while (Instant.now().isBefore(deadline)) {
      WorkerSlot failed = null;
      synchronized (fleet.lock) {
        List<WorkerSlot> all = fleet.all();
        List<String> ids = all.stream().map(w -> w.id).sorted().toList();
        List<String> wanted =
            fleet.desiredWorkers(spec).stream().map(WorkerIdentity::id).sorted().toList();
        if (ids.equals(wanted)
            && all.stream()
                .allMatch(
                    w ->
                        w.phase == Phase.READY
                            && workers.revision(w).equals(ProcessBackend.CURRENT))) {
          return;
        }
        for (WorkerSlot w : all) {
          if (w.phase == Phase.BACKOFF && workers.revision(w).equals(ProcessBackend.CURRENT)) {
            failed = w;
          }
        }
      }
      if (failed != null) {
        throw new IllegalStateException(
            "worker "
                + failed.id
                + " failed: "
                + failed.lastError
                + Polling.logTail(lifecycle.logFile(failed.id))
                + "\n(the supervisor keeps replacing it after a backoff; a rolling update keeps the"
                + " old worker serving meanwhile; see baton status)");
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "timed out waiting for the cluster to reach the new size; see baton status");
  }

  private void reconcileSoon() {
    tasks.submit(this::reconcileWorkers);
  }

  /**
   * Applies a changed spec: workers whose command line changed are replaced one unit at a time
   * (start the new one, wait until it is ready and registered, then drain the old one; a replica
   * group's changed workers together); counts follow the new spec; a new model rolls every worker.
   * Changes the running gateway cannot take (mode, host, gateway settings) are refused. {@code
   * nextModel} is the resolved model file ({@code null}: keep the current one).
   */
  public String apply(ClusterSpec next, String nextModel) throws InterruptedException {
    ClusterSpec current = spec;
    List<String> refused = new ArrayList<>();
    if (next.mode() != current.mode()) {
      refused.add("mode");
    }
    if (!next.host().equals(current.host())) {
      refused.add("host");
    }
    if (!next.gateway().equals(current.gateway())) {
      refused.add("gateway");
    }
    if (next.cpuPinning() != current.cpuPinning()
        || next.cpuPinning() && CpuPinning.peakWorkers(next) != CpuPinning.peakWorkers(current)) {
      refused.add("cpuPinning (and, pinned, the roles' max: the cores are divided by it)");
    }
    ClusterSpec.KvCacheSpec cache = current.kvTransfer().cache();
    ClusterSpec.KvCacheSpec nextCache = next.kvTransfer().cache();
    if (cache != null
        && cache.local()
        && nextCache != null
        && nextCache.local()
        && nextCache.port() == null
        && nextCache.persist() == cache.persist()) {
      ClusterSpec.KvTransferSpec kv = next.kvTransfer();
      next =
          next.withKvTransfer(
              new ClusterSpec.KvTransferSpec(kv.connector(), kv.config(), cache)); // same server
    }
    if (!java.util.Objects.equals(next.kvTransfer().cache(), cache)) {
      refused.add("kvTransfer.cache");
    }
    if (!refused.isEmpty()) {
      throw new IllegalArgumentException(
          "these settings cannot change on a running cluster: "
              + String.join(", ", refused)
              + " (run baton down, then baton up)");
    }
    int outdated;
    synchronized (fleet.lock) {
      spec = next;
      if (nextModel != null) {
        model = nextModel;
      }
      fleet.resetDesired(next);
      autoscaler.resetAll();
      outdated =
          (int)
              workers.observe().stream()
                  .filter(o -> !o.revision().equals(ProcessBackend.CURRENT))
                  .count();
    }
    // the reconcile loop rolls them (WorkerReconciler: one unit per lane, surge first)
    awaitConverged(outdated + 1);
    return "applied: "
        + outdated
        + " worker(s) replaced one unit at a time (a pool worker, or a replica group's changed"
        + " workers together)";
  }

  /** A live view for {@code baton status}: every worker with its health and load. */
  public StatusView status() {
    List<WorkerSlot> snapshot = fleet.all();
    Map<String, Future<WorkerMetrics>> futures = new LinkedHashMap<>();
    for (WorkerSlot w : snapshot) {
      if (w.process != null && w.process.isAlive()) {
        futures.put(w.id, tasks.submit(() -> MetricsScraper.scrape(w)));
      }
    }
    List<StatusView.WorkerRow> rows = new ArrayList<>();
    for (WorkerSlot w : snapshot) {
      WorkerMetrics m = null;
      Future<WorkerMetrics> f = futures.get(w.id);
      if (f != null) {
        try {
          m = f.get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
          m = null;
        }
      }
      String health =
          switch (w.phase) {
            case READY -> w.failures == 0 ? "healthy" : "failing(" + w.failures + ")";
            case STARTING -> w.waitingForBackoff() ? "restarting" : "starting";
            case BACKOFF -> "restarting";
            case DRAINING -> "draining";
            case STOPPED -> "stopped";
          };
      rows.add(
          new StatusView.WorkerRow(
              w.id,
              w.role.wireName(),
              w.group,
              w.port,
              w.process == null ? 0 : w.process.pid(),
              health,
              w.restarts,
              m == null ? null : m.running(),
              m == null ? null : m.waiting(),
              m == null ? null : m.kvUsage(),
              w.engine.wireName(),
              w.lastError));
    }
    return new StatusView(
        run.name(),
        phase,
        spec.mode().wireName(),
        model,
        gatewayUrl(),
        gateway.alive(),
        gateway.restarts(),
        rows);
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops everything (workers first, then the gateway), removes the state, releases waiters. */
  @Override
  public void close() {
    if (fleet.stopping()) {
      try {
        stopped.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    stopEverything();
  }

  private void stopEverything() {
    if (!fleet.stop()) {
      return;
    }
    if (!"failed".equals(phase)) {
      phase = "stopping";
    }
    publishQuietly();
    if (reconciler != null) {
      reconciler.interrupt();
    }
    List<Future<?>> stops = new ArrayList<>();
    for (WorkerSlot w : fleet.all()) {
      stops.add(
          tasks.submit(
              () -> {
                Launched p = w.process;
                if (p != null) {
                  p.stop(WorkerLifecycle.STOP_GRACE);
                }
              }));
    }
    for (Future<?> f : stops) {
      try {
        f.get(WorkerLifecycle.STOP_GRACE.toSeconds() + 10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warning("stopping a worker: " + e);
      }
    }
    gateway.stop(WorkerLifecycle.STOP_GRACE);
    redis.stop(WorkerLifecycle.STOP_GRACE); // after the workers: they save until the end
    if (control != null) {
      control.stop();
    }
    tasks.shutdownNow();
    try {
      if ("failed".equals(phase)) {
        publish();
      } else {
        publisher.clear();
      }
    } catch (IOException e) {
      LOG.warning("cannot update the run directory: " + e.getMessage());
    }
    stopped.countDown();
  }

  /** Stops the cluster from a control API call, after the reply has been sent. */
  void shutdownAsync() {
    Thread.ofPlatform().name("baton-down").start(this::close);
  }

  // ---------------------------------------------------------------- state

  private ClusterState state() {
    Launched g = gateway.process();
    return publisher.state(
        new StatePublisher.Header(
            phase,
            error,
            control == null ? 0 : control.port(),
            spec.mode().wireName(),
            model,
            gateway.port() == 0 ? null : gatewayUrl(),
            g == null ? null : new ProcessState(g.pid(), g.started(), gateway.port())),
        fleet);
  }

  private void publish() throws IOException {
    publisher.publish(state());
  }

  private void publishQuietly() {
    publisher.publishQuietly(state());
  }
}
