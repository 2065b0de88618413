package dev.baton.control;

import dev.baton.control.LaunchBackend.Health;
import dev.baton.control.LaunchBackend.Observed;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The worker reconcile both backends share: level-triggered, it compares the desired workers (from
 * the spec's counts) with the instances a {@link LaunchBackend} observes and decides what to launch
 * and what to drain. It keeps no state between passes, so a restarted controller adopts the
 * instances it finds instead of recreating them. The rules:
 *
 * <ul>
 *   <li>a worker without a live instance gets one; a failed instance is drained and replaced;
 *   <li>replica mode is all-or-nothing per group: a group starts as a whole, and a group with a
 *       lost member is replaced whole (its other members drained, a complete new gang launched),
 *       because survivors hold state for the lost member;
 *   <li>instances of workers the spec no longer has (scale-in) are drained, newest first;
 *   <li>an instance of an older revision (model, image, flags, resources changed) is rolled one
 *       unit at a time per lane (a pool role, or the groups): surge first, the new instance(s)
 *       launched next to the old ones, and the old ones drained only once every new one is ready.
 * </ul>
 */
public final class WorkerReconciler {

  private WorkerReconciler() {}

  /**
   * What a pass does: identities to launch (with the gang each joins, by worker id) and instances
   * to drain, with why.
   */
  public record Plan(
      List<WorkerIdentity> create,
      Map<String, String> gangs,
      List<Observed> drain,
      List<String> reasons) {
    public Plan {
      create = List.copyOf(create);
      gangs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(gangs));
      drain = List.copyOf(drain);
      reasons = List.copyOf(reasons);
    }

    /** The gang a launched worker joins ({@code null}: a pool worker). */
    public String gang(WorkerIdentity worker) {
      return gangs.get(worker.id());
    }

    public boolean idle() {
      return create.isEmpty() && drain.isEmpty();
    }

    /** Whether {@code instance} is drained by this plan. */
    public boolean drains(String instance) {
      return drain.stream().anyMatch(o -> o.instance().equals(instance));
    }
  }

  /** One pass: observe, plan, drain (first: the gateway stops routing), then launch. */
  public static Plan reconcile(Mode mode, List<WorkerIdentity> desired, LaunchBackend backend) {
    Plan plan = plan(mode, desired, backend::revision, backend.observe());
    plan.drain().forEach(backend::drain);
    plan.create().forEach(w -> backend.launch(w, plan.gang(w)));
    return plan;
  }

  /**
   * Decides a pass from its inputs alone (a pure function).
   *
   * @param desired every worker the cluster should run
   * @param revision the revision a new instance of a worker would have
   * @param observed every live instance the backend found
   */
  public static Plan plan(
      Mode mode,
      List<WorkerIdentity> desired,
      Function<WorkerIdentity, String> revision,
      List<Observed> observed) {
    Map<String, WorkerIdentity> wanted = new LinkedHashMap<>();
    desired.forEach(w -> wanted.put(w.id(), w));
    List<WorkerIdentity> create = new ArrayList<>();
    Map<String, String> gangOf = new LinkedHashMap<>();
    Gangs gangs = new Gangs(observed);
    Set<Observed> drain = new LinkedHashSet<>();
    List<String> reasons = new ArrayList<>();
    Map<String, List<Observed>> live = new LinkedHashMap<>();
    for (Observed o : observed) {
      if (o.health() == Health.FAILED) {
        drain.add(o);
        reasons.add(o.instance() + " exited: replaced");
      } else {
        live.computeIfAbsent(o.worker().id(), k -> new ArrayList<>()).add(o);
      }
    }
    // scale-in: workers the spec no longer has, newest first
    live.values().stream()
        .flatMap(List::stream)
        .filter(o -> !wanted.containsKey(o.worker().id()))
        .sorted(Comparator.comparing((Observed o) -> age(o.worker())).reversed())
        .forEach(
            o -> {
              drain.add(o);
              reasons.add(o.instance() + " is not in the spec any more: drained");
            });
    boolean replica = mode == Mode.REPLICA;
    Set<String> lanesRolling = new LinkedHashSet<>();
    Map<String, List<WorkerIdentity>> outdatedUnits = new LinkedHashMap<>();
    Map<String, String> joining = new LinkedHashMap<>();
    for (Map.Entry<String, List<WorkerIdentity>> unit : units(desired, replica).entrySet()) {
      List<WorkerIdentity> members = unit.getValue();
      long covered = members.stream().filter(w -> live.containsKey(w.id())).count();
      boolean gang = replica && members.getFirst().group() != null;
      if (covered == 0 || (gang && covered < members.size())) {
        // nothing there, or a gang that lost a member: (re)create the whole unit, a new gang
        String label = gang ? gangs.fresh(unit.getKey()) : null;
        for (WorkerIdentity w : members) {
          for (Observed o : live.getOrDefault(w.id(), List.of())) {
            drain.add(o);
            reasons.add(
                o.instance()
                    + " belongs to group "
                    + unit.getKey()
                    + ", which lost a member: replaced whole");
          }
          create.add(w);
          gangOf.put(w.id(), label);
        }
        if (covered == 0) {
          reasons.add(unit.getKey() + ": created");
        }
        continue;
      }
      if (!gang) {
        for (WorkerIdentity w : members) {
          if (!live.containsKey(w.id())) {
            create.add(w);
            reasons.add(w.id() + ": created");
          }
        }
      }
      // rolling update: members with an instance of an older revision roll together (a group's
      // outdated members at once), and a unit counts as in flight once any has a new instance
      List<WorkerIdentity> outdated = new ArrayList<>();
      boolean inFlight = false;
      boolean replacementsReady = true;
      for (WorkerIdentity w : members) {
        String current = revision.apply(w);
        List<Observed> forId = live.getOrDefault(w.id(), List.of());
        if (forId.stream().anyMatch(o -> !o.revision().equals(current))) {
          outdated.add(w);
          inFlight |= forId.stream().anyMatch(o -> o.revision().equals(current));
          replacementsReady &=
              forId.stream().anyMatch(o -> o.revision().equals(current) && o.ready());
        }
      }
      if (outdated.isEmpty()) {
        continue;
      }
      if (!inFlight) {
        outdatedUnits.put(unit.getKey(), outdated);
        if (gang && outdated.size() < members.size()) {
          // the new members join the gang of the members that stay (they pair with them)
          members.stream()
              .filter(w -> !outdated.contains(w))
              .flatMap(w -> live.get(w.id()).stream())
              .map(Observed::gang)
              .filter(java.util.Objects::nonNull)
              .findFirst()
              .ifPresent(g -> joining.put(unit.getKey(), g));
        }
        continue;
      }
      lanesRolling.add(lane(members.getFirst()));
      if (replacementsReady) {
        for (WorkerIdentity w : outdated) {
          String current = revision.apply(w);
          for (Observed o : live.get(w.id())) {
            if (!o.revision().equals(current)) {
              drain.add(o);
              reasons.add(o.instance() + ": its replacement is ready, drained");
            }
          }
        }
      }
    }
    // start rolling the next outdated unit of every lane that has none in flight
    for (Map.Entry<String, List<WorkerIdentity>> entry : outdatedUnits.entrySet()) {
      WorkerIdentity first = entry.getValue().getFirst();
      if (lanesRolling.add(lane(first))) {
        // a whole group rolling is a new gang beside the old one: the gateway must not pair an
        // old member with a new one (a new model's decode with the old model's prefill)
        String label =
            !replica || first.group() == null
                ? null
                : joining.containsKey(entry.getKey())
                    ? joining.get(entry.getKey())
                    : gangs.fresh(first.group());
        for (WorkerIdentity w : entry.getValue()) {
          create.add(w);
          gangOf.put(w.id(), label);
        }
        reasons.add(entry.getKey() + ": rolling to a new revision");
      }
    }
    return new Plan(create, gangOf, new ArrayList<>(drain), reasons);
  }

  /**
   * Units of creation and rolling: a replica group ({@code g0}: all its prefill and decode
   * workers), else one worker.
   */
  private static Map<String, List<WorkerIdentity>> units(
      List<WorkerIdentity> desired, boolean replica) {
    Map<String, List<WorkerIdentity>> units = new LinkedHashMap<>();
    for (WorkerIdentity w : desired) {
      String unit = replica && w.group() != null ? w.group() : w.id();
      units.computeIfAbsent(unit, k -> new ArrayList<>()).add(w);
    }
    return units;
  }

  /**
   * The gateway pairs a replica group's prefill and decode workers within one gang label: the
   * group's name for its first gang, then {@code g0.1}, {@code g0.2}, ... for each new one (a group
   * replaced whole, or rolled whole beside the old gang). Derived from what is observed, so a
   * restarted controller continues the numbering.
   */
  private static final class Gangs {
    private final Map<String, Integer> newest = new java.util.HashMap<>();

    Gangs(List<Observed> observed) {
      for (Observed o : observed) {
        if (o.gang() != null && o.worker().group() != null) {
          newest.merge(o.worker().group(), generation(o.gang()), Math::max);
        }
      }
    }

    String fresh(String group) {
      int next = newest.containsKey(group) ? newest.get(group) + 1 : 0;
      newest.put(group, next);
      return next == 0 ? group : group + "." + next;
    }

    private static int generation(String gang) {
      int dot = gang.lastIndexOf('.');
      return dot < 0 ? 0 : Integer.parseInt(gang.substring(dot + 1));
    }
  }

  /** Units roll one at a time per lane: the groups, or one pool role. */
  private static String lane(WorkerIdentity w) {
    return w.group() != null ? "groups" : w.role().wireName();
  }

  /** Newer workers (higher group, then higher index) sort later. */
  private static int age(WorkerIdentity w) {
    int group = w.group() == null ? 0 : WorkerIdentity.groupNumber(w.group());
    return group * 10_000 + w.index();
  }
}
