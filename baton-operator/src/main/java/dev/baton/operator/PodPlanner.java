package dev.baton.operator;

import dev.baton.control.Mode;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides, from the desired workers and the pods that exist, which pods to create and which to
 * drain and delete. A pure function of its inputs (the reconciler executes the plan), so every rule
 * is unit-testable:
 *
 * <ul>
 *   <li>a worker without a live pod gets one; a failed or finished pod is deleted and replaced;
 *   <li>replica mode is all-or-nothing per group: a group with a lost member is replaced whole (its
 *       other members drained, a complete new gang created);
 *   <li>pods of workers the spec no longer has (scale-in) are drained, newest first;
 *   <li>a pod of an older revision (model, image, flags, resources changed) is rolled one unit at a
 *       time per lane (a role's pool, or the groups): the new pod(s) are created next to the old
 *       ones, and the old ones are drained only once every new one is ready.
 * </ul>
 */
final class PodPlanner {

  private PodPlanner() {}

  /** What to do: pods to create (named already) and pods to drain then delete, with why. */
  record Plan(List<Pod> create, List<Pod> drain, List<String> reasons) {
    boolean idle() {
      return create.isEmpty() && drain.isEmpty();
    }
  }

  /** A pod as the planner sees it. */
  record Observed(
      Pod pod, WorkerIdentity worker, String revision, boolean ready, boolean finished) {
    /** Running with its Ready condition true (readiness probe: GET /health). */
    static boolean isReady(Pod pod) {
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      return "Running".equals(phase)
          && pod.getStatus().getConditions() != null
          && pod.getStatus().getConditions().stream()
              .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static Observed of(Pod pod) {
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      boolean ready = isReady(pod);
      return new Observed(
          pod,
          ClusterObjects.workerOf(pod),
          pod.getMetadata().getLabels().get(Labels.REVISION),
          ready,
          "Failed".equals(phase) || "Succeeded".equals(phase));
    }
  }

  /**
   * @param desired the pod each desired worker should run (from {@link PodFactory#pod}), by id
   * @param pods the cluster's worker pods that are not being deleted already
   * @param suffix gives each new pod a unique name suffix
   */
  static Plan plan(
      ClusterDefinition def,
      Map<String, Pod> desired,
      List<Pod> pods,
      java.util.function.Supplier<String> suffix) {
    List<Pod> create = new ArrayList<>();
    Set<Pod> drain = new LinkedHashSet<>();
    List<String> reasons = new ArrayList<>();
    Map<String, List<Observed>> live = new LinkedHashMap<>();
    for (Pod pod : pods) {
      Observed o = Observed.of(pod);
      if (o.finished()) {
        drain.add(pod);
        reasons.add(name(pod) + " exited: replaced");
      } else {
        live.computeIfAbsent(o.worker().id(), k -> new ArrayList<>()).add(o);
      }
    }
    // scale-in: workers the spec no longer has, newest first
    live.values().stream()
        .flatMap(List::stream)
        .filter(o -> !desired.containsKey(o.worker().id()))
        .sorted(Comparator.comparing((Observed o) -> order(o.worker())).reversed())
        .forEach(
            o -> {
              drain.add(o.pod());
              reasons.add(name(o.pod()) + " is not in the spec any more: drained");
            });
    boolean replica = def.cluster().mode() == Mode.REPLICA;
    Map<String, List<String>> units = units(desired.keySet(), replica);
    Set<String> lanesRolling = new LinkedHashSet<>();
    Map<String, List<String>> outdatedUnits = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> unit : units.entrySet()) {
      List<String> members = unit.getValue();
      long covered = members.stream().filter(live::containsKey).count();
      boolean gang = replica && unit.getKey().startsWith("g");
      if (covered == 0 || (gang && covered < members.size())) {
        // nothing there, or a gang that lost a member: (re)create the whole unit
        for (String id : members) {
          for (Observed o : live.getOrDefault(id, List.of())) {
            drain.add(o.pod());
            reasons.add(
                name(o.pod())
                    + " belongs to group "
                    + unit.getKey()
                    + ", which lost a member: replaced whole");
          }
          create.add(named(desired.get(id), suffix));
        }
        if (covered == 0) {
          reasons.add(unit.getKey() + ": created");
        }
        continue;
      }
      if (!gang) {
        for (String id : members) {
          if (!live.containsKey(id)) {
            create.add(named(desired.get(id), suffix));
            reasons.add(id + ": created");
          }
        }
      }
      // rolling update: members with a pod of an older revision roll together (a group's
      // outdated members at once), and a unit counts as in flight once any has a new pod
      List<String> outdated = new ArrayList<>();
      boolean inFlight = false;
      boolean replacementsReady = true;
      for (String id : members) {
        String wanted = revision(desired.get(id));
        List<Observed> forId = live.getOrDefault(id, List.of());
        if (forId.stream().anyMatch(o -> !o.revision().equals(wanted))) {
          outdated.add(id);
          inFlight |= forId.stream().anyMatch(o -> o.revision().equals(wanted));
          replacementsReady &=
              forId.stream().anyMatch(o -> o.revision().equals(wanted) && o.ready());
        }
      }
      if (outdated.isEmpty()) {
        continue;
      }
      if (!inFlight) {
        outdatedUnits.put(unit.getKey(), outdated);
        continue;
      }
      lanesRolling.add(lane(unit.getKey()));
      if (replacementsReady) {
        for (String id : outdated) {
          for (Observed o : live.get(id)) {
            if (!o.revision().equals(revision(desired.get(id)))) {
              drain.add(o.pod());
              reasons.add(name(o.pod()) + ": its replacement is ready, drained");
            }
          }
        }
      }
    }
    // start rolling the next outdated unit of every lane that has none in flight
    for (Map.Entry<String, List<String>> entry : outdatedUnits.entrySet()) {
      String unit = entry.getKey();
      if (lanesRolling.add(lane(unit))) {
        for (String id : entry.getValue()) {
          create.add(named(desired.get(id), suffix));
        }
        reasons.add(unit + ": rolling to a new revision");
      }
    }
    return new Plan(List.copyOf(create), List.copyOf(drain), List.copyOf(reasons));
  }

  /**
   * Units of creation and rolling: a replica group ({@code g0}: all its prefill and decode
   * workers), else one worker.
   */
  static Map<String, List<String>> units(Set<String> ids, boolean replica) {
    Map<String, List<String>> units = new LinkedHashMap<>();
    for (String id : ids) {
      String unit = replica && id.startsWith("g") ? id.substring(0, id.indexOf('-')) : id;
      units.computeIfAbsent(unit, k -> new ArrayList<>()).add(id);
    }
    return units;
  }

  /** Units roll one at a time per lane: the groups, or one pool role. */
  private static String lane(String unit) {
    return unit.startsWith("g") && !unit.contains("-")
        ? "groups"
        : unit.substring(0, unit.lastIndexOf('-'));
  }

  private static int order(WorkerIdentity w) {
    int group = w.group() == null ? 0 : WorkerIdentity.groupNumber(w.group());
    return group * 10_000 + w.index();
  }

  private static Pod named(Pod pod, java.util.function.Supplier<String> suffix) {
    Pod copy = new io.fabric8.kubernetes.api.model.PodBuilder(pod).build();
    copy.getMetadata().setName(pod.getMetadata().getName() + "-" + suffix.get());
    return copy;
  }

  private static String revision(Pod pod) {
    return pod.getMetadata().getLabels().get(Labels.REVISION);
  }

  private static String name(Pod pod) {
    return pod.getMetadata().getName();
  }

  /** Counts per role of {@code pods} that are ready. */
  static Map<String, Integer> readyByRole(List<Pod> pods) {
    Map<String, Integer> counts = new LinkedHashMap<>();
    for (Role role : Role.values()) {
      counts.put(role.wireName(), 0);
    }
    for (Pod pod : pods) {
      Observed o = Observed.of(pod);
      if (o.ready()) {
        counts.merge(o.worker().role().wireName(), 1, Integer::sum);
      }
    }
    return counts;
  }
}
