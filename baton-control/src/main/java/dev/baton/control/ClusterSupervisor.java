package dev.baton.control;

import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.ClusterSpec.SupervisionSettings;
import dev.baton.control.ClusterState.ProcessState;
import dev.baton.control.ClusterState.WorkerState;
import dev.baton.control.GatewayAdmin.WorkerInfo;
import dev.baton.control.LaunchBackend.LaunchRequest;
import dev.baton.control.LaunchBackend.Launched;
import dev.baton.core.PrometheusText;
import dev.baton.core.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs one cluster: starts the gateway and the workers through a {@link LaunchBackend}, registers
 * ready workers with the gateway, and then reconciles forever — restarting workers that exit or
 * fail health checks (with backoff), adding and draining workers to match the desired counts (set
 * by {@code baton scale} or the {@link Autoscaler}), and rolling workers one at a time when the
 * spec changes. It publishes its state in the run directory after every change.
 */
public final class ClusterSupervisor implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(ClusterSupervisor.class.getName());

  /** Generous: a worker busy with a long prefill on a small machine may answer /health late. */
  private static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(5);

  private static final Duration STOP_GRACE = Duration.ofSeconds(5);

  /** A worker healthy this long has its restart backoff reset. */
  private static final Duration BACKOFF_RESET = Duration.ofSeconds(30);

  /** Draining waits until a worker has had nothing running or waiting for this long. */
  private static final Duration DRAIN_QUIET = Duration.ofMillis(1500);

  /** A worker's lifecycle. */
  enum Phase {
    STARTING,
    READY,
    BACKOFF,
    DRAINING,
    STOPPED
  }

  /** One worker slot; mutable, guarded by the supervisor's lock. */
  static final class Worker {
    final String id;
    final Role role;
    final String group;
    final int port;
    final String url;
    final EngineType engine;
    int bootstrapPort;
    WorkerPlan.Launch launch;
    Launched process;
    Phase phase = Phase.STARTING;
    boolean registered;
    int restarts;
    int failures;
    double backoffSeconds;
    Instant restartAt;
    Instant readySince;
    String lastError;

    Worker(String id, Role role, String group, int port, String url, EngineType engine) {
      this.id = id;
      this.role = role;
      this.group = group;
      this.port = port;
      this.url = url;
      this.engine = engine;
    }

    WorkerInfo info(ClusterSpec spec) {
      return new WorkerInfo(id, url, role, group, WorkerPlan.poolFor(spec, role), bootstrapPort);
    }

    boolean active() {
      return phase != Phase.DRAINING && phase != Phase.STOPPED;
    }
  }

  private final RunDirectory run;
  private final LaunchBackend backend;
  private final Toolchain toolchain;
  private volatile String model;
  private final String secret;
  private final Object lock = new Object();
  private final ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<String, Worker> workers = new LinkedHashMap<>();
  private final EnumMap<Role, Integer> desiredPool = new EnumMap<>(Role.class);
  private final Set<Integer> usedPorts = new HashSet<>();
  private final Map<String, Deque<MetricSample>> history = new HashMap<>();
  private final Map<String, Autoscaler.State> scaleStates = new HashMap<>();
  private final Map<String, MetricsScrape> lastScrapes = new HashMap<>();
  private final Map<Role, Integer> nextIndex = new EnumMap<>(Role.class);
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile ClusterSpec spec;
  private int desiredGroups;
  private int nextGroup;
  private boolean rolling;
  private volatile boolean stopping;
  private volatile String phase = "starting";
  private volatile String error;
  private Launched gateway;
  private int gatewayPort;
  private GatewayAdmin admin;
  private ControlServer control;
  private Thread reconciler;
  private Instant lastAutoscale = Instant.EPOCH;
  private Instant gatewayRestartAt;
  private double gatewayBackoffSeconds;
  private int gatewayRestarts;

  /**
   * @param model the resolved model file (a random model already created)
   * @param secret the cluster's KV secret, also stored in {@code run.secretFile()}
   */
  public ClusterSupervisor(
      RunDirectory run,
      ClusterSpec spec,
      LaunchBackend backend,
      Toolchain toolchain,
      String model,
      String secret) {
    this.run = run;
    this.spec = spec;
    this.backend = backend;
    this.toolchain = toolchain;
    this.model = model;
    this.secret = secret;
    this.gatewayBackoffSeconds = spec.supervision().restartBackoffSeconds();
  }

  public ClusterSpec spec() {
    return spec;
  }

  public String gatewayUrl() {
    return "http://" + hostForUrl(spec.host()) + ":" + gatewayPort;
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
      startGateway();
      synchronized (lock) {
        if (spec.mode() == Mode.REPLICA) {
          desiredGroups = spec.groups().replicas();
        }
        for (Role role : spec.independentlyScaledRoles()) {
          desiredPool.put(role, spec.roles().get(role).replicas());
        }
      }
      List<Worker> initial = createMissingWorkers();
      List<Future<Boolean>> starts = new ArrayList<>();
      for (Worker w : initial) {
        starts.add(tasks.submit(() -> bringUp(w)));
      }
      for (int i = 0; i < initial.size(); i++) {
        Worker w = initial.get(i);
        boolean ok;
        try {
          ok = starts.get(i).get();
        } catch (Exception e) {
          ok = false;
        }
        if (!ok) {
          throw new IOException(
              "worker " + w.id + " did not become ready: " + w.lastError + logTail(logFile(w.id)));
        }
      }
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

  /** Blocks until the cluster has been shut down (by {@code baton down} or {@link #close}). */
  public void awaitStopped() throws InterruptedException {
    stopped.await();
  }

  private void startGateway() throws IOException {
    if (gatewayPort == 0) {
      // A restarted gateway keeps its port: clients and the state file already point there.
      gatewayPort = spec.gateway().port() != null ? spec.gateway().port() : freePort();
    }
    synchronized (lock) {
      usedPorts.add(gatewayPort);
    }
    String adminToken = run.secret(run.tokenFile());
    writePrivate(run.gatewayConfig(), WorkerPlan.gatewayConfig(spec, gatewayPort, adminToken));
    WorkerPlan.Launch launch =
        WorkerPlan.gateway(spec, toolchain, run.gatewayConfig(), gatewayPort, run.dir());
    Path log = logFile("gateway");
    gateway = backend.launch(new LaunchRequest("gateway", launch.command(), launch.env(), log));
    admin = new GatewayAdmin(gatewayUrl(), adminToken);
    publish();
    boolean ready =
        waitFor(
            () -> Http.healthy(gatewayUrl() + "/health", HEALTH_TIMEOUT),
            () -> gateway.isAlive(),
            Duration.ofMillis(Math.round(spec.supervision().readyTimeoutSeconds() * 1000)));
    if (!ready) {
      String why =
          gateway.isAlive()
              ? "not healthy after " + spec.supervision().readyTimeoutSeconds() + " s"
              : "exited with code " + gateway.exitCode();
      throw new IOException("gateway " + why + logTail(log));
    }
  }

  // ---------------------------------------------------------------- worker lifecycle

  /** Creates (but does not start) the workers the desired counts call for. */
  private List<Worker> createMissingWorkers() {
    synchronized (lock) {
      List<Worker> created = new ArrayList<>();
      if (rolling || stopping) {
        return created;
      }
      if (spec.mode() == Mode.REPLICA) {
        TreeSet<Integer> groups = activeGroups();
        while (groups.size() < desiredGroups) {
          int g = nextGroup++;
          groups.add(g);
        }
        for (int g : groups) {
          for (Role role : List.of(Role.PREFILL, Role.DECODE)) {
            long have =
                workers.values().stream()
                    .filter(w -> w.active() && w.role == role && groupName(g).equals(w.group))
                    .count();
            for (long i = have; i < spec.roles().get(role).replicas(); i++) {
              created.add(newWorker(role, groupName(g)));
            }
          }
        }
      }
      for (Role role : spec.independentlyScaledRoles()) {
        long have = workers.values().stream().filter(w -> w.active() && w.role == role).count();
        for (long i = have; i < desiredPool.getOrDefault(role, 0); i++) {
          created.add(newWorker(role, null));
        }
      }
      return created;
    }
  }

  private TreeSet<Integer> activeGroups() {
    TreeSet<Integer> groups = new TreeSet<>();
    for (Worker w : workers.values()) {
      if (w.active() && w.group != null) {
        groups.add(Integer.parseInt(w.group.substring(1)));
      }
    }
    return groups;
  }

  private static String groupName(int g) {
    return "g" + g;
  }

  /** Picks the workers to drain so counts match: newest first, unready before ready. */
  private List<Worker> pickSurplus() {
    synchronized (lock) {
      List<Worker> surplus = new ArrayList<>();
      if (rolling || stopping) {
        return surplus;
      }
      Comparator<Worker> drainOrder =
          Comparator.<Worker>comparingInt(w -> w.phase == Phase.READY ? 1 : 0)
              .thenComparing(w -> indexOf(w.id), Comparator.reverseOrder());
      if (spec.mode() == Mode.REPLICA) {
        TreeSet<Integer> groups = activeGroups();
        while (groups.size() > desiredGroups) {
          int g = groups.pollLast();
          workers.values().stream()
              .filter(w -> w.active() && groupName(g).equals(w.group))
              .forEach(surplus::add);
        }
        for (int g : groups) {
          for (Role role : List.of(Role.PREFILL, Role.DECODE)) {
            List<Worker> inGroup =
                workers.values().stream()
                    .filter(w -> w.active() && w.role == role && groupName(g).equals(w.group))
                    .sorted(drainOrder)
                    .toList();
            int extra = inGroup.size() - spec.roles().get(role).replicas();
            for (int i = 0; i < extra; i++) {
              surplus.add(inGroup.get(i));
            }
          }
        }
      }
      for (Role role : spec.independentlyScaledRoles()) {
        List<Worker> pool =
            workers.values().stream()
                .filter(w -> w.active() && w.role == role)
                .sorted(drainOrder)
                .toList();
        int extra = pool.size() - desiredPool.getOrDefault(role, 0);
        for (int i = 0; i < extra; i++) {
          surplus.add(pool.get(i));
        }
      }
      // Roles that left the spec entirely.
      for (Worker w : workers.values()) {
        if (w.active() && !spec.roles().containsKey(w.role)) {
          surplus.add(w);
        }
      }
      for (Worker w : surplus) {
        w.phase = Phase.DRAINING;
      }
      return surplus;
    }
  }

  private static int indexOf(String id) {
    return Integer.parseInt(id.substring(id.lastIndexOf('-') + 1));
  }

  private Worker newWorker(Role role, String group) {
    int index = nextIndex.merge(role, 1, Integer::sum) - 1;
    String id = (group == null ? "" : group + "-") + role.wireName() + "-" + index;
    RoleSpec roleSpec = spec.roles().get(role);
    int port = roleSpec.port() != null ? fixedPort(roleSpec) : freePort();
    usedPorts.add(port);
    Worker w =
        new Worker(
            id,
            role,
            group,
            port,
            "http://" + hostForUrl(spec.host()) + ":" + port,
            roleSpec.engine());
    w.backoffSeconds = spec.supervision().restartBackoffSeconds();
    if (roleSpec.engine() == EngineType.SGLANG && role != Role.DECODE) {
      // SGLang's prefill side serves KV from a bootstrap server on its own port.
      w.bootstrapPort = freePort();
      usedPorts.add(w.bootstrapPort);
    }
    w.launch = plan(w);
    workers.put(id, w);
    return w;
  }

  private WorkerPlan.Launch plan(Worker w) {
    return WorkerPlan.worker(
        spec,
        toolchain,
        model,
        w.role,
        w.group,
        w.id,
        w.port,
        w.bootstrapPort,
        run.secretFile(),
        secret,
        run.dir());
  }

  private int fixedPort(RoleSpec roleSpec) {
    for (int p = roleSpec.port(); p <= 65535; p++) {
      if (!usedPorts.contains(p)) {
        return p;
      }
    }
    throw new IllegalStateException("no free port left above " + roleSpec.port());
  }

  /**
   * Launches a worker, waits until it is healthy and registers it with the gateway. Returns {@code
   * false} (with the worker in backoff) when any step fails.
   */
  private boolean bringUp(Worker w) {
    WorkerPlan.Launch launch;
    synchronized (lock) {
      if (stopping || w.phase == Phase.DRAINING || w.phase == Phase.STOPPED) {
        return false;
      }
      w.phase = Phase.STARTING;
      w.failures = 0;
      launch = w.launch;
    }
    try {
      Launched process =
          backend.launch(new LaunchRequest(w.id, launch.command(), launch.env(), logFile(w.id)));
      synchronized (lock) {
        w.process = process;
        if (w.phase != Phase.STARTING || stopping) {
          // drained or shut down while launching: do not leave this process behind
          process.kill();
          return false;
        }
      }
      publishQuietly();
      boolean healthy =
          waitFor(
              () -> Http.healthy(w.url + "/health", HEALTH_TIMEOUT),
              () -> process.isAlive() && !stopping && w.phase == Phase.STARTING,
              Duration.ofMillis(Math.round(spec.supervision().readyTimeoutSeconds() * 1000)));
      if (!healthy) {
        failed(
            w,
            process.isAlive()
                ? "not healthy within " + spec.supervision().readyTimeoutSeconds() + " s"
                : "exited with code " + process.exitCode() + " while starting");
        return false;
      }
      admin.register(w.info(spec));
      synchronized (lock) {
        if (w.phase != Phase.STARTING) {
          return false; // drained or stopped meanwhile; drain deregisters it
        }
        w.registered = true;
        w.phase = Phase.READY;
        w.readySince = Instant.now();
      }
      LOG.info("worker " + w.id + " ready at " + w.url);
      publishQuietly();
      return true;
    } catch (IOException | RuntimeException e) {
      failed(w, e.getMessage());
      return false;
    }
  }

  /** Takes a failed worker out of traffic, stops it, and schedules a restart with backoff. */
  private void failed(Worker w, String reason) {
    boolean deregister;
    Launched process;
    synchronized (lock) {
      if (w.phase == Phase.DRAINING || w.phase == Phase.STOPPED) {
        return;
      }
      w.lastError = reason;
      deregister = w.registered;
      w.registered = false;
      process = w.process;
      w.phase = Phase.BACKOFF;
      w.restartAt = Instant.now().plusMillis(Math.round(w.backoffSeconds * 1000));
      w.backoffSeconds =
          Math.min(w.backoffSeconds * 2, spec.supervision().maxRestartBackoffSeconds());
    }
    LOG.warning("worker " + w.id + " failed: " + reason + "; restarting after backoff");
    if (deregister) {
      deregisterQuietly(w);
    }
    if (process != null && process.isAlive()) {
      process.kill();
    }
    publishQuietly();
  }

  /**
   * Drains a worker: the gateway stops routing to it, in-flight requests finish (nothing running or
   * waiting for a quiet period, bounded by the drain timeout), then it stops.
   */
  private void drain(Worker w) {
    boolean deregister;
    synchronized (lock) {
      deregister = w.registered;
      w.registered = false;
    }
    if (deregister) {
      deregisterQuietly(w);
    }
    Launched process = w.process;
    if (process != null && process.isAlive() && deregister) {
      Instant deadline =
          Instant.now().plusMillis(Math.round(spec.supervision().drainTimeoutSeconds() * 1000));
      Instant quietSince = null;
      while (Instant.now().isBefore(deadline) && process.isAlive()) {
        int busy = inFlight(w);
        Instant now = Instant.now();
        if (busy == 0) {
          quietSince = quietSince == null ? now : quietSince;
          if (!now.isBefore(quietSince.plus(DRAIN_QUIET))) {
            break;
          }
        } else {
          quietSince = null;
        }
        sleepQuietly(Duration.ofMillis(200));
      }
    }
    if (process != null) {
      process.stop(STOP_GRACE);
    }
    synchronized (lock) {
      w.phase = Phase.STOPPED;
      workers.remove(w.id);
      usedPorts.remove(w.port);
      usedPorts.remove(w.bootstrapPort);
    }
    LOG.info("worker " + w.id + " drained and stopped");
    publishQuietly();
  }

  /** Requests running or waiting on a worker; unreadable metrics count as busy (-1 is not 0). */
  private static int inFlight(Worker w) {
    try {
      Http.Reply reply = Http.get(w.url + "/metrics", HEALTH_TIMEOUT);
      if (!reply.ok()) {
        return -1;
      }
      PrometheusText metrics = PrometheusText.parse(reply.body());
      return (int)
          Math.round(
              metrics.sum("vllm:num_requests_running") + metrics.sum("vllm:num_requests_waiting"));
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private void deregisterQuietly(Worker w) {
    try {
      admin.deregister(w.info(spec));
    } catch (IOException | RuntimeException e) {
      LOG.warning("could not deregister " + w.id + ": " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------- reconcile loop

  private void reconcileLoop() {
    while (!stopping) {
      try {
        reconcileOnce();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "reconcile step failed", e);
      }
      sleepQuietly(
          Duration.ofMillis(Math.round(spec.supervision().healthIntervalSeconds() * 1000)));
    }
  }

  /**
   * Restarts a gateway that exited (same port, with backoff) and registers every ready worker with
   * it again, since a new gateway process knows only its config file.
   */
  private void superviseGateway() {
    if (stopping || gateway == null || gateway.isAlive()) {
      return;
    }
    Instant now = Instant.now();
    if (gatewayRestartAt == null) {
      LOG.warning("gateway exited with code " + gateway.exitCode() + "; restarting it");
      gatewayRestartAt = now.plusMillis(Math.round(gatewayBackoffSeconds * 1000));
      return;
    }
    if (now.isBefore(gatewayRestartAt)) {
      return;
    }
    try {
      startGateway();
      List<Worker> ready;
      synchronized (lock) {
        ready = workers.values().stream().filter(w -> w.phase == Phase.READY).toList();
      }
      for (Worker w : ready) {
        try {
          admin.register(w.info(spec));
        } catch (IOException e) {
          failed(w, "could not re-register with the restarted gateway: " + e.getMessage());
        }
      }
      gatewayRestarts++;
      LOG.info("gateway restarted; " + ready.size() + " worker(s) registered again");
      gatewayRestartAt = null;
      gatewayBackoffSeconds = spec.supervision().restartBackoffSeconds();
    } catch (IOException | RuntimeException e) {
      LOG.warning("gateway restart failed: " + e.getMessage());
      if (gateway != null && gateway.isAlive()) {
        gateway.kill();
      }
      gatewayBackoffSeconds =
          Math.min(gatewayBackoffSeconds * 2, spec.supervision().maxRestartBackoffSeconds());
      gatewayRestartAt = now.plusMillis(Math.round(gatewayBackoffSeconds * 1000));
    }
    publishQuietly();
  }

  /** One pass: gateway, worker health, restarts, counts, autoscaling, published state. */
  void reconcileOnce() {
    SupervisionSettings sup = spec.supervision();
    superviseGateway();
    List<Worker> toCheck;
    synchronized (lock) {
      toCheck = workers.values().stream().filter(w -> w.phase == Phase.READY).toList();
    }
    // Health checks in parallel so one hung worker does not delay the others.
    Map<Worker, Future<Boolean>> checks = new LinkedHashMap<>();
    for (Worker w : toCheck) {
      checks.put(
          w,
          tasks.submit(
              () -> w.process.isAlive() && Http.healthy(w.url + "/health", HEALTH_TIMEOUT)));
    }
    for (Map.Entry<Worker, Future<Boolean>> e : checks.entrySet()) {
      Worker w = e.getKey();
      boolean ok;
      try {
        ok = e.getValue().get();
      } catch (Exception ex) {
        ok = false;
      }
      if (!w.process.isAlive()) {
        failed(w, "exited with code " + w.process.exitCode());
      } else if (!ok) {
        int failures;
        synchronized (lock) {
          failures = ++w.failures;
        }
        if (failures >= sup.failureThreshold()) {
          failed(w, "failed " + failures + " health checks in a row");
        }
      } else {
        synchronized (lock) {
          w.failures = 0;
          if (w.readySince != null
              && Duration.between(w.readySince, Instant.now()).compareTo(BACKOFF_RESET) > 0) {
            w.backoffSeconds = sup.restartBackoffSeconds();
          }
        }
      }
    }
    // Restarts whose backoff has passed.
    List<Worker> restart = new ArrayList<>();
    synchronized (lock) {
      Instant now = Instant.now();
      for (Worker w : workers.values()) {
        if (w.phase == Phase.BACKOFF && !w.restartAt.isAfter(now) && !stopping) {
          w.restarts++;
          w.phase = Phase.STARTING;
          restart.add(w);
        }
      }
    }
    restart.forEach(w -> tasks.submit(() -> bringUp(w)));
    autoscale();
    // Counts: start what is missing, drain what is too many.
    for (Worker w : createMissingWorkers()) {
      tasks.submit(() -> bringUp(w));
    }
    for (Worker w : pickSurplus()) {
      tasks.submit(() -> drain(w));
    }
    publishQuietly();
  }

  // ---------------------------------------------------------------- autoscaling

  /** Scaled units with autoscaling targets: a role's pool, or "groups" in replica mode. */
  private Map<String, AutoscaleTargets> autoscaledUnits() {
    Map<String, AutoscaleTargets> units = new LinkedHashMap<>();
    if (spec.mode() == Mode.REPLICA && spec.groups().autoscale() != null) {
      units.put("groups", spec.groups().autoscale());
    }
    for (Role role : spec.independentlyScaledRoles()) {
      AutoscaleTargets t = spec.roles().get(role).autoscale();
      if (t != null) {
        units.put(role.wireName(), t);
      }
    }
    return units;
  }

  private void autoscale() {
    Map<String, AutoscaleTargets> units = autoscaledUnits();
    Instant now = Instant.now();
    double interval = spec.autoscaler().intervalSeconds();
    if (units.isEmpty() || Duration.between(lastAutoscale, now).toMillis() < interval * 1000 - 50) {
      return;
    }
    lastAutoscale = now;
    Map<String, WorkerMetrics> metrics = scrapeReady();
    for (Map.Entry<String, AutoscaleTargets> unit : units.entrySet()) {
      String name = unit.getKey();
      MetricSample sample = sampleFor(name, metrics, now);
      Deque<MetricSample> samples = history.computeIfAbsent(name, k -> new ArrayDeque<>());
      samples.addLast(sample);
      Instant horizon =
          now.minusMillis(Math.round(spec.autoscaler().stableWindowSeconds() * 1000) + 1000);
      while (!samples.isEmpty() && samples.peekFirst().time().isBefore(horizon)) {
        samples.removeFirst();
      }
      int min;
      int max;
      int current;
      synchronized (lock) {
        if (name.equals("groups")) {
          min = spec.groups().min();
          max = spec.groups().max();
          current = desiredGroups;
        } else {
          RoleSpec r = spec.roles().get(Role.parse(name));
          min = r.min();
          max = r.max();
          current = desiredPool.getOrDefault(Role.parse(name), 0);
        }
      }
      Autoscaler.State state = scaleStates.getOrDefault(name, Autoscaler.State.initial(current));
      if (state.current() != current) {
        state =
            new Autoscaler.State(
                current, state.lastScaleUp(), state.lastScaleDown(), state.lastPanic());
      }
      Autoscaler.Decision decision =
          Autoscaler.decide(
              new Autoscaler.Policy(spec.autoscaler(), unit.getValue(), min, max),
              List.copyOf(samples),
              state,
              now);
      scaleStates.put(name, state.after(decision, now));
      if (decision.desired() != current) {
        LOG.info(
            "autoscaler: "
                + name
                + " "
                + current
                + " -> "
                + decision.desired()
                + " ("
                + decision.reason()
                + ")");
        synchronized (lock) {
          if (name.equals("groups")) {
            desiredGroups = decision.desired();
          } else {
            desiredPool.put(Role.parse(name), decision.desired());
          }
        }
      }
    }
  }

  /** Scraped load of one worker. */
  record WorkerMetrics(
      Worker worker,
      double running,
      double waiting,
      double kvUsage,
      PrometheusText.Histogram ttft,
      PrometheusText.Histogram itl) {}

  /** A worker's previous histograms, to compute the quantiles of the latest interval. */
  record MetricsScrape(PrometheusText.Histogram ttft, PrometheusText.Histogram itl) {}

  private Map<String, WorkerMetrics> scrapeReady() {
    List<Worker> ready;
    synchronized (lock) {
      ready = workers.values().stream().filter(w -> w.phase == Phase.READY).toList();
    }
    Map<String, Future<WorkerMetrics>> futures = new LinkedHashMap<>();
    for (Worker w : ready) {
      futures.put(w.id, tasks.submit(() -> scrape(w)));
    }
    Map<String, WorkerMetrics> out = new LinkedHashMap<>();
    futures.forEach(
        (id, f) -> {
          try {
            WorkerMetrics m = f.get();
            if (m != null) {
              out.put(id, m);
            }
          } catch (Exception e) {
            // an unreadable worker contributes no sample this round
          }
        });
    return out;
  }

  /** Reads a worker's /metrics; {@code null} when it cannot be read. */
  static WorkerMetrics scrape(Worker w) {
    try {
      Http.Reply reply = Http.get(w.url + "/metrics", HEALTH_TIMEOUT);
      if (!reply.ok()) {
        return null;
      }
      PrometheusText m = PrometheusText.parse(reply.body());
      return new WorkerMetrics(
          w,
          m.sum("vllm:num_requests_running"),
          m.sum("vllm:num_requests_waiting"),
          m.firstOf(0, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
          m.histogram("vllm:time_to_first_token_seconds"),
          m.histogram("vllm:inter_token_latency_seconds").count() > 0
              ? m.histogram("vllm:inter_token_latency_seconds")
              : m.histogram("vllm:time_per_output_token_seconds"));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Aggregates the workers of one unit into a sample (p90s over the interval since last). */
  private MetricSample sampleFor(String unit, Map<String, WorkerMetrics> metrics, Instant now) {
    List<WorkerMetrics> members = new ArrayList<>();
    for (WorkerMetrics m : metrics.values()) {
      boolean member =
          unit.equals("groups")
              ? m.worker().group != null
              : m.worker().role.wireName().equals(unit);
      if (member) {
        members.add(m);
      }
    }
    int replicas;
    synchronized (lock) {
      replicas =
          unit.equals("groups")
              ? activeGroups().size()
              : (int)
                  workers.values().stream()
                      .filter(w -> w.phase == Phase.READY && w.role.wireName().equals(unit))
                      .count();
    }
    double running = 0;
    double waiting = 0;
    double kv = 0;
    PrometheusText.Histogram ttft = new PrometheusText.Histogram(new java.util.TreeMap<>());
    PrometheusText.Histogram itl = new PrometheusText.Histogram(new java.util.TreeMap<>());
    for (WorkerMetrics m : members) {
      running += m.running();
      waiting += m.waiting();
      kv += m.kvUsage();
      MetricsScrape previous = lastScrapes.get(m.worker().id);
      PrometheusText.Histogram ttftDelta =
          previous == null ? m.ttft() : m.ttft().minus(previous.ttft());
      PrometheusText.Histogram itlDelta =
          previous == null ? m.itl() : m.itl().minus(previous.itl());
      lastScrapes.put(m.worker().id, new MetricsScrape(m.ttft(), m.itl()));
      // TTFT is the prefill side's signal, ITL the decode side's (a colocated worker has both).
      if (m.worker().role != Role.DECODE) {
        ttft = ttft.plus(ttftDelta);
      }
      if (m.worker().role != Role.PREFILL) {
        itl = itl.plus(itlDelta);
      }
    }
    double meanKv = members.isEmpty() ? 0 : kv / members.size();
    return new MetricSample(
        now, replicas, waiting, running, meanKv, ttft.quantile(0.9), itl.quantile(0.9));
  }

  // ---------------------------------------------------------------- control API operations

  /** Sets a pool role's desired replicas and waits until the pool matches it. */
  public String scaleRole(Role role, int replicas) throws InterruptedException {
    synchronized (lock) {
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
      desiredPool.put(role, replicas);
      scaleStates.remove(role.wireName());
    }
    awaitConverged();
    return role.wireName()
        + " scaled to "
        + replicas
        + note(spec.roles().get(role).autoscale() != null);
  }

  /** Sets the number of xPyD groups (replica mode) and waits until it is reached. */
  public String scaleGroups(int groups) throws InterruptedException {
    synchronized (lock) {
      if (spec.mode() != Mode.REPLICA) {
        throw new IllegalArgumentException(
            "--groups is for replica mode; this cluster is in pool mode: use --role R --replicas N");
      }
      checkBounds("groups", groups, spec.groups().min(), spec.groups().max());
      desiredGroups = groups;
      scaleStates.remove("groups");
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
    reconcileSoon();
    SupervisionSettings sup = spec.supervision();
    Instant deadline =
        Instant.now()
            .plusMillis(
                Math.round((sup.readyTimeoutSeconds() + sup.drainTimeoutSeconds() + 10) * 1000));
    while (Instant.now().isBefore(deadline)) {
      if (converged()) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "timed out waiting for the cluster to reach the new size; see baton status");
  }

  private boolean converged() {
    synchronized (lock) {
      if (createMissingCount() > 0) {
        return false;
      }
      for (Worker w : workers.values()) {
        if (w.phase != Phase.READY) {
          return false;
        }
      }
      if (spec.mode() == Mode.REPLICA && activeGroups().size() != desiredGroups) {
        return false;
      }
      for (Role role : spec.independentlyScaledRoles()) {
        long n = workers.values().stream().filter(w -> w.role == role).count();
        if (n != desiredPool.getOrDefault(role, 0)) {
          return false;
        }
      }
      return true;
    }
  }

  private int createMissingCount() {
    int missing = 0;
    if (spec.mode() == Mode.REPLICA) {
      missing += Math.max(0, desiredGroups - activeGroups().size());
    }
    return missing;
  }

  private void reconcileSoon() {
    tasks.submit(
        () -> {
          for (Worker w : createMissingWorkers()) {
            tasks.submit(() -> bringUp(w));
          }
          for (Worker w : pickSurplus()) {
            tasks.submit(() -> drain(w));
          }
        });
  }

  /**
   * Applies a changed spec: workers whose command line changed are replaced one at a time (start
   * the new one, wait until it is ready and registered, then drain the old one); counts follow the
   * new spec; a new model rolls every worker. Changes the running gateway cannot take (mode, host,
   * gateway settings) are refused. {@code nextModel} is the resolved model file ({@code null}: keep
   * the current one).
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
    if (!refused.isEmpty()) {
      throw new IllegalArgumentException(
          "these settings cannot change on a running cluster: "
              + String.join(", ", refused)
              + " (run baton down, then baton up)");
    }
    List<Worker> toRoll = new ArrayList<>();
    synchronized (lock) {
      rolling = true;
      spec = next;
      if (nextModel != null) {
        model = nextModel;
      }
      for (Worker w : workers.values()) {
        if (w.active() && next.roles().containsKey(w.role)) {
          WorkerPlan.Launch fresh = plan(w);
          if (!fresh.equals(w.launch)) {
            toRoll.add(w);
          }
        }
      }
    }
    int rolled = 0;
    try {
      for (Worker old : toRoll) {
        Worker replacement;
        synchronized (lock) {
          if (!workers.containsKey(old.id) || !old.active()) {
            continue;
          }
          replacement = newWorker(old.role, old.group);
        }
        if (!bringUp(replacement)) {
          String why = replacement.lastError + logTail(logFile(replacement.id));
          synchronized (lock) {
            replacement.phase = Phase.DRAINING;
          }
          drain(replacement);
          throw new IllegalStateException(
              "rolling update stopped: replacement " + replacement.id + " failed: " + why);
        }
        synchronized (lock) {
          old.phase = Phase.DRAINING;
        }
        drain(old);
        rolled++;
      }
    } finally {
      synchronized (lock) {
        rolling = false;
        if (next.mode() == Mode.REPLICA) {
          desiredGroups = clamp(next.groups().replicas(), next.groups().min(), next.groups().max());
        }
        desiredPool.clear();
        for (Role role : next.independentlyScaledRoles()) {
          RoleSpec r = next.roles().get(role);
          desiredPool.put(role, r.replicas());
        }
        scaleStates.clear();
      }
    }
    awaitConverged();
    return "applied: " + rolled + " worker(s) replaced one at a time";
  }

  private static int clamp(int n, int min, int max) {
    return Math.max(min, Math.min(max, n));
  }

  /** A live view for {@code baton status}: every worker with its health and load. */
  public StatusView status() {
    List<Worker> snapshot;
    synchronized (lock) {
      snapshot = new ArrayList<>(workers.values());
    }
    Map<String, Future<WorkerMetrics>> futures = new LinkedHashMap<>();
    for (Worker w : snapshot) {
      if (w.process != null && w.process.isAlive()) {
        futures.put(w.id, tasks.submit(() -> scrape(w)));
      }
    }
    List<StatusView.WorkerRow> rows = new ArrayList<>();
    for (Worker w : snapshot) {
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
            case STARTING -> "starting";
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
        gateway != null && gateway.isAlive(),
        gatewayRestarts,
        rows);
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops everything (workers first, then the gateway), removes the state, releases waiters. */
  @Override
  public void close() {
    if (stopping) {
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
    synchronized (lock) {
      if (stopping) {
        return;
      }
      stopping = true;
    }
    if (!"failed".equals(phase)) {
      phase = "stopping";
    }
    publishQuietly();
    if (reconciler != null) {
      reconciler.interrupt();
    }
    List<Worker> all;
    synchronized (lock) {
      all = new ArrayList<>(workers.values());
    }
    List<Future<?>> stops = new ArrayList<>();
    for (Worker w : all) {
      stops.add(
          tasks.submit(
              () -> {
                Launched p = w.process;
                if (p != null) {
                  p.stop(STOP_GRACE);
                }
              }));
    }
    for (Future<?> f : stops) {
      try {
        f.get(STOP_GRACE.toSeconds() + 10, TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warning("stopping a worker: " + e);
      }
    }
    if (gateway != null) {
      gateway.stop(STOP_GRACE);
    }
    if (control != null) {
      control.stop();
    }
    tasks.shutdownNow();
    try {
      if ("failed".equals(phase)) {
        publish();
      } else {
        Files.deleteIfExists(run.stateFile());
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

  // ---------------------------------------------------------------- state and helpers

  private void publishQuietly() {
    try {
      publish();
    } catch (IOException | UncheckedIOException e) {
      LOG.warning("cannot write state: " + e.getMessage());
    }
  }

  private void publish() throws IOException {
    List<WorkerState> rows = new ArrayList<>();
    synchronized (lock) {
      for (Worker w : workers.values()) {
        rows.add(
            new WorkerState(
                w.id,
                w.role.wireName(),
                w.group,
                w.port,
                w.url,
                w.process == null ? 0 : w.process.pid(),
                w.process == null ? null : w.process.started(),
                w.phase.name().toLowerCase(java.util.Locale.ROOT),
                w.restarts,
                w.engine.wireName()));
      }
    }
    ProcessHandle self = ProcessHandle.current();
    ClusterState state =
        new ClusterState(
            run.name(),
            phase,
            error,
            self.pid(),
            self.info().startInstant().orElse(null),
            control == null ? 0 : control.port(),
            spec.mode().wireName(),
            model,
            gatewayPort == 0 ? null : gatewayUrl(),
            gateway == null
                ? null
                : new ProcessState(gateway.pid(), gateway.started(), gatewayPort),
            rows);
    synchronized (run) {
      run.writeState(state);
    }
  }

  private static void writePrivate(Path file, String text) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(
        file,
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, text);
  }

  private Path logFile(String id) {
    return run.logs().resolve(id + ".log");
  }

  /** The last lines of a log, for error messages that say why a process failed. */
  static String logTail(Path log) {
    try {
      if (!Files.isRegularFile(log)) {
        return "";
      }
      List<String> lines = Files.readAllLines(log);
      int from = Math.max(0, lines.size() - 12);
      return "\n    last lines of "
          + log
          + ":\n      "
          + String.join("\n      ", lines.subList(from, lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "";
    }
  }

  private int freePort() {
    try {
      for (int attempt = 0; attempt < 50; attempt++) {
        try (ServerSocket probe = new ServerSocket()) {
          probe.bind(new InetSocketAddress(InetAddress.getByName(spec.host()), 0));
          int port = probe.getLocalPort();
          synchronized (lock) {
            if (!usedPorts.contains(port)) {
              return port;
            }
          }
        }
      }
      throw new IOException("no free port found on " + spec.host());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port: " + e.getMessage(), e);
    }
  }

  static String hostForUrl(String host) {
    if (host.equals("0.0.0.0")) {
      return "127.0.0.1";
    }
    return host.contains(":") ? "[" + host + "]" : host;
  }

  /** Polls until {@code done}, giving up when {@code keepWaiting} turns false or time is up. */
  private static boolean waitFor(
      BooleanSupplier done, BooleanSupplier keepWaiting, Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    long pause = 50;
    while (Instant.now().isBefore(deadline)) {
      if (done.getAsBoolean()) {
        return true;
      }
      if (!keepWaiting.getAsBoolean()) {
        return false;
      }
      sleepQuietly(Duration.ofMillis(pause));
      pause = Math.min(pause * 2, 500);
    }
    return done.getAsBoolean();
  }

  private static void sleepQuietly(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** For tests: the pid of a worker by id, or -1. */
  long workerPid(String id) {
    synchronized (lock) {
      Worker w = workers.get(id);
      return w == null || w.process == null ? -1 : w.process.pid();
    }
  }
}
