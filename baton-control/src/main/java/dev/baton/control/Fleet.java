package dev.baton.control;

import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The local cluster's desired and observed state: the worker instances that exist (observed), the
 * sizes asked for (desired: groups in replica mode, replicas per independently scaled role, as
 * {@link #desiredWorkers}), the ports, GPUs and core slots in use, and each worker's restart
 * backoff, which a replacement instance inherits. The {@link WorkerReconciler} compares desired and
 * observed (through {@link ProcessBackend}). {@link #lock} guards this object and every {@link
 * WorkerSlot}.
 */
final class Fleet {

  final Object lock = new Object();
  private final Map<String, WorkerSlot> workers = new LinkedHashMap<>();
  private final EnumMap<Role, Integer> desiredPool = new EnumMap<>(Role.class);
  private final Map<String, Restart> restarts = new java.util.HashMap<>();
  private final Set<Integer> usedPorts = new HashSet<>();
  private final PortPicker ports = PortPicker.belowEphemeralRange();
  private final Set<Integer> usedGpus = new HashSet<>();
  private final Map<Integer, Integer> coreSlotUsers = new java.util.HashMap<>();
  private CpuPinning.Layout pinning;
  private int desiredGroups;
  private int nextInstance;
  private volatile boolean stopping;

  /**
   * A worker's restart history, kept across its instances: the next one waits until {@code at} and
   * takes the failed one's ports again when they are free.
   */
  private record Restart(
      int count,
      double backoffSeconds,
      java.time.Instant at,
      int port,
      int bootstrapPort,
      int sideChannelPort) {}

  /** Desired sizes from a spec (clamped to min..max). */
  void resetDesired(ClusterSpec spec) {
    synchronized (lock) {
      if (spec.mode() == Mode.REPLICA) {
        desiredGroups =
            Math.max(spec.groups().min(), Math.min(spec.groups().max(), spec.groups().replicas()));
      }
      desiredPool.clear();
      for (Role role : spec.independentlyScaledRoles()) {
        desiredPool.put(role, spec.roles().get(role).replicas());
      }
    }
  }

  /** cpuPinning's core slots; new workers each take one ({@code null}: unpinned). */
  void pinning(CpuPinning.Layout layout) {
    synchronized (lock) {
      pinning = layout;
    }
  }

  CpuPinning.Layout pinning() {
    synchronized (lock) {
      return pinning;
    }
  }

  int desiredGroups() {
    synchronized (lock) {
      return desiredGroups;
    }
  }

  void desiredGroups(int groups) {
    synchronized (lock) {
      desiredGroups = groups;
    }
  }

  int desired(Role role) {
    synchronized (lock) {
      return desiredPool.getOrDefault(role, 0);
    }
  }

  void desired(Role role, int replicas) {
    synchronized (lock) {
      desiredPool.put(role, replicas);
    }
  }

  boolean stopping() {
    return stopping;
  }

  /** Marks the fleet as stopping; false when it already was. */
  boolean stop() {
    synchronized (lock) {
      if (stopping) {
        return false;
      }
      stopping = true;
      return true;
    }
  }

  /** An instance by its name, or {@code null}. */
  WorkerSlot instance(String name) {
    synchronized (lock) {
      return workers.get(name);
    }
  }

  /** The desired workers at the current sizes. */
  List<WorkerIdentity> desiredWorkers(ClusterSpec spec) {
    synchronized (lock) {
      return WorkerIdentity.desired(spec, desiredGroups, this::desired);
    }
  }

  /**
   * Notes a failure of {@code w} (its backoff already advanced): the worker's next instance starts
   * after {@code restartAt} and counts one restart more.
   */
  void failed(WorkerSlot w) {
    synchronized (lock) {
      restarts.put(
          w.id,
          new Restart(
              w.restarts + 1,
              w.backoffSeconds,
              w.restartAt,
              w.port,
              w.bootstrapPort,
              w.sideChannelPort));
    }
  }

  /** Every worker instance, in creation order. */
  List<WorkerSlot> all() {
    synchronized (lock) {
      return new ArrayList<>(workers.values());
    }
  }

  List<WorkerSlot> inPhase(Phase phase) {
    synchronized (lock) {
      return workers.values().stream().filter(w -> w.phase == phase).toList();
    }
  }

  /** Forgets a stopped worker and frees its ports. */
  void remove(WorkerSlot w) {
    synchronized (lock) {
      workers.remove(w.instance);
      usedPorts.remove(w.port);
      usedPorts.remove(w.bootstrapPort);
      usedPorts.remove(w.sideChannelPort);
      usedGpus.remove(w.gpu);
      if (w.coreSlot >= 0) {
        coreSlotUsers.merge(w.coreSlot, -1, Integer::sum);
      }
    }
  }

  /** Numbers of the groups that have an active worker. */
  private TreeSet<Integer> activeGroups() {
    TreeSet<Integer> groups = new TreeSet<>();
    for (WorkerSlot w : workers.values()) {
      if (w.active() && w.group != null) {
        groups.add(WorkerIdentity.groupNumber(w.group));
      }
    }
    return groups;
  }

  /** Ready workers of a scaled unit: a role's wire name, or "groups" for grouped workers. */
  int readyIn(String unit) {
    synchronized (lock) {
      if (unit.equals("groups")) {
        return activeGroups().size();
      }
      return (int) count(w -> w.phase == Phase.READY && w.role.wireName().equals(unit));
    }
  }

  /**
   * A new instance of {@code worker} (ports reserved, launch planned, restart history inherited),
   * added to the fleet.
   */
  WorkerSlot newWorker(
      ClusterSpec spec, WorkerIdentity worker, Function<WorkerSlot, WorkerPlan.Launch> planner) {
    synchronized (lock) {
      Role role = worker.role();
      String id = worker.id();
      RoleSpec roleSpec = spec.roles().get(role);
      Restart restart = restarts.get(id);
      int port =
          roleSpec.port() != null
              ? fixedPort(roleSpec.port())
              : again(restart == null ? 0 : restart.port(), spec.host());
      usedPorts.add(port);
      WorkerSlot w =
          new WorkerSlot(
              id + "#" + ++nextInstance,
              id,
              role,
              worker.group(),
              port,
              "http://" + hostForUrl(spec.host()) + ":" + port,
              roleSpec.engine());
      w.backoffSeconds =
          restart == null ? spec.supervision().restartBackoffSeconds() : restart.backoffSeconds();
      if (restart != null) {
        w.restarts = restart.count();
        w.restartAt = restart.at();
      }
      if (roleSpec.engine() == EngineType.SGLANG && role != Role.DECODE) {
        // SGLang's prefill side serves KV from a bootstrap server on its own port.
        w.bootstrapPort = again(restart == null ? 0 : restart.bootstrapPort(), spec.host());
        usedPorts.add(w.bootstrapPort);
      }
      if (roleSpec.engine() == EngineType.VLLM) {
        // Each vLLM worker on the host needs its own NIXL side-channel port.
        w.sideChannelPort = again(restart == null ? 0 : restart.sideChannelPort(), spec.host());
        usedPorts.add(w.sideChannelPort);
      }
      w.gpu = 0;
      while (usedGpus.contains(w.gpu)) {
        w.gpu++;
      }
      usedGpus.add(w.gpu);
      if (pinning != null) {
        takeCoreSlot(w);
      }
      w.launch = planner.apply(w);
      workers.put(w.instance, w);
      return w;
    }
  }

  /**
   * Gives {@code w} the core slot with the fewest workers (the lowest on a tie). The spec's peak
   * fits the slots, so a slot is shared only while a rolling update runs a replacement beside the
   * worker it replaces.
   */
  private void takeCoreSlot(WorkerSlot w) {
    int best = 0;
    for (int s = 1; s < pinning.slots().size(); s++) {
      if (coreSlotUsers.getOrDefault(s, 0) < coreSlotUsers.getOrDefault(best, 0)) {
        best = s;
      }
    }
    coreSlotUsers.merge(best, 1, Integer::sum);
    w.coreSlot = best;
    w.cores = pinning.slots().get(best);
  }

  /** Marks a port as taken (the gateway's). */
  void reservePort(int port) {
    synchronized (lock) {
      usedPorts.add(port);
    }
  }

  /**
   * A port that is free on {@code host} and not used by this cluster: below the kernel's ephemeral
   * range where it is known, so no worker's own "*" sockets can take it before its owner starts
   * ({@link PortPicker}).
   */
  int freePort(String host) {
    try {
      synchronized (lock) {
        return ports != null
            ? ports.pick(host, usedPorts)
            : PortPicker.pickEphemeral(host, usedPorts::contains);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port: " + e.getMessage(), e);
    }
  }

  /**
   * {@code previous} (a failed instance's port) when no live instance holds it and nothing else has
   * taken it since, else a free one.
   */
  private int again(int previous, String host) {
    return previous > 0 && !usedPorts.contains(previous) && PortPicker.bindable(host, previous)
        ? previous
        : freePort(host);
  }

  private int fixedPort(int first) {
    for (int p = first; p <= 65535; p++) {
      if (!usedPorts.contains(p)) {
        return p;
      }
    }
    throw new IllegalStateException("no free port left above " + first);
  }

  private long count(java.util.function.Predicate<WorkerSlot> filter) {
    return workers.values().stream().filter(filter).count();
  }

  /** The host part of a URL for a bind address (0.0.0.0 is reached on loopback). */
  static String hostForUrl(String host) {
    if (host.equals("0.0.0.0")) {
      return "127.0.0.1";
    }
    return host.contains(":") ? "[" + host + "]" : host;
  }
}
