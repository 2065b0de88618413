package dev.baton.control;

import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The cluster's desired and observed state: the workers that exist (observed), the sizes asked for
 * (desired: groups in replica mode, replicas per independently scaled role), and the ports in use.
 * The reconcile loop compares the two with {@link #createMissing} and {@link #pickSurplus}; it
 * knows nothing of processes, so the local and the Kubernetes launch backends share it. {@link
 * #lock} guards this object and every {@link WorkerSlot}.
 */
final class Fleet {

  final Object lock = new Object();
  private final Map<String, WorkerSlot> workers = new LinkedHashMap<>();
  private final EnumMap<Role, Integer> desiredPool = new EnumMap<>(Role.class);
  private final Map<Role, Integer> nextIndex = new EnumMap<>(Role.class);
  private final Set<Integer> usedPorts = new HashSet<>();
  private final Set<Integer> usedGpus = new HashSet<>();
  private final Map<Integer, Integer> coreSlotUsers = new java.util.HashMap<>();
  private CpuPinning.Layout pinning;
  private int desiredGroups;
  private int nextGroup;
  private boolean rolling;
  private volatile boolean stopping;

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

  /** While rolling or stopping, counts are not reconciled. */
  void rolling(boolean value) {
    synchronized (lock) {
      rolling = value;
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

  WorkerSlot get(String id) {
    synchronized (lock) {
      return workers.get(id);
    }
  }

  boolean contains(WorkerSlot w) {
    synchronized (lock) {
      return workers.get(w.id) == w;
    }
  }

  /** Every worker, in creation order. */
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
      workers.remove(w.id);
      usedPorts.remove(w.port);
      usedPorts.remove(w.bootstrapPort);
      usedPorts.remove(w.sideChannelPort);
      usedGpus.remove(w.gpu);
      if (w.coreSlot >= 0) {
        coreSlotUsers.merge(w.coreSlot, -1, Integer::sum);
      }
    }
  }

  /** Creates (but does not start) the workers the desired sizes call for. */
  List<WorkerSlot> createMissing(
      ClusterSpec spec, Function<WorkerSlot, WorkerPlan.Launch> planner) {
    synchronized (lock) {
      List<WorkerSlot> created = new ArrayList<>();
      if (rolling || stopping) {
        return created;
      }
      if (spec.mode() == Mode.REPLICA) {
        TreeSet<Integer> groups = activeGroups();
        while (groups.size() < desiredGroups) {
          groups.add(nextGroup++);
        }
        for (int g : groups) {
          for (Role role : List.of(Role.PREFILL, Role.DECODE)) {
            long have = count(w -> w.active() && w.role == role && groupName(g).equals(w.group));
            for (long i = have; i < spec.roles().get(role).replicas(); i++) {
              created.add(newWorker(spec, role, groupName(g), planner));
            }
          }
        }
      }
      for (Role role : spec.independentlyScaledRoles()) {
        long have = count(w -> w.active() && w.role == role);
        for (long i = have; i < desiredPool.getOrDefault(role, 0); i++) {
          created.add(newWorker(spec, role, null, planner));
        }
      }
      return created;
    }
  }

  /**
   * Picks the workers to drain so sizes match (newest first, unready before ready) and marks them
   * draining; whole groups go first in replica mode, and roles that left the spec go entirely.
   */
  List<WorkerSlot> pickSurplus(ClusterSpec spec) {
    synchronized (lock) {
      List<WorkerSlot> surplus = new ArrayList<>();
      if (rolling || stopping) {
        return surplus;
      }
      Comparator<WorkerSlot> drainOrder =
          Comparator.<WorkerSlot>comparingInt(w -> w.phase == Phase.READY ? 1 : 0)
              .thenComparing(WorkerSlot::index, Comparator.reverseOrder());
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
            List<WorkerSlot> inGroup =
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
        List<WorkerSlot> pool =
            workers.values().stream()
                .filter(w -> w.active() && w.role == role)
                .sorted(drainOrder)
                .toList();
        int extra = pool.size() - desiredPool.getOrDefault(role, 0);
        for (int i = 0; i < extra; i++) {
          surplus.add(pool.get(i));
        }
      }
      for (WorkerSlot w : workers.values()) {
        if (w.active() && !spec.roles().containsKey(w.role)) {
          surplus.add(w);
        }
      }
      for (WorkerSlot w : surplus) {
        w.phase = Phase.DRAINING;
      }
      return surplus;
    }
  }

  /** Whether every desired worker exists and is ready, and nothing is draining. */
  boolean converged(ClusterSpec spec) {
    synchronized (lock) {
      for (WorkerSlot w : workers.values()) {
        if (w.phase != Phase.READY) {
          return false;
        }
      }
      if (spec.mode() == Mode.REPLICA && activeGroups().size() != desiredGroups) {
        return false;
      }
      for (Role role : spec.independentlyScaledRoles()) {
        if (count(w -> w.role == role) != desiredPool.getOrDefault(role, 0)) {
          return false;
        }
      }
      return true;
    }
  }

  /** Numbers of the groups that have an active worker. */
  TreeSet<Integer> activeGroups() {
    synchronized (lock) {
      TreeSet<Integer> groups = new TreeSet<>();
      for (WorkerSlot w : workers.values()) {
        if (w.active() && w.group != null) {
          groups.add(Integer.parseInt(w.group.substring(1)));
        }
      }
      return groups;
    }
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

  /** A new worker slot (ports reserved, launch planned), added to the fleet. */
  WorkerSlot newWorker(
      ClusterSpec spec, Role role, String group, Function<WorkerSlot, WorkerPlan.Launch> planner) {
    synchronized (lock) {
      int index = nextIndex.merge(role, 1, Integer::sum) - 1;
      String id = (group == null ? "" : group + "-") + role.wireName() + "-" + index;
      RoleSpec roleSpec = spec.roles().get(role);
      int port = roleSpec.port() != null ? fixedPort(roleSpec.port()) : freePort(spec.host());
      usedPorts.add(port);
      WorkerSlot w =
          new WorkerSlot(
              id,
              role,
              group,
              port,
              "http://" + hostForUrl(spec.host()) + ":" + port,
              roleSpec.engine());
      w.backoffSeconds = spec.supervision().restartBackoffSeconds();
      if (roleSpec.engine() == EngineType.SGLANG && role != Role.DECODE) {
        // SGLang's prefill side serves KV from a bootstrap server on its own port.
        w.bootstrapPort = freePort(spec.host());
        usedPorts.add(w.bootstrapPort);
      }
      if (roleSpec.engine() == EngineType.VLLM) {
        // Each vLLM worker on the host needs its own NIXL side-channel port.
        w.sideChannelPort = freePort(spec.host());
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
      workers.put(id, w);
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

  /** A port that is free on {@code host} and not used by this cluster. */
  int freePort(String host) {
    try {
      for (int attempt = 0; attempt < 50; attempt++) {
        try (ServerSocket probe = new ServerSocket()) {
          probe.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
          int port = probe.getLocalPort();
          synchronized (lock) {
            if (!usedPorts.contains(port)) {
              return port;
            }
          }
        }
      }
      throw new IOException("no free port found on " + host);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port: " + e.getMessage(), e);
    }
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

  static String groupName(int g) {
    return "g" + g;
  }

  /** The host part of a URL for a bind address (0.0.0.0 is reached on loopback). */
  static String hostForUrl(String host) {
    if (host.equals("0.0.0.0")) {
      return "127.0.0.1";
    }
    return host.contains(":") ? "[" + host + "]" : host;
  }
}
