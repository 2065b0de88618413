package dev.baton.control;

import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.core.Role;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The autoscaler as it runs for one cluster, shared by the local supervisor and the Kubernetes
 * operator: once per {@code autoscaler.intervalSeconds} it scrapes the ready workers, adds one
 * {@link MetricSample} per autoscaled unit (the groups in replica mode, pool roles and {@code both}
 * with targets) to that unit's history, and asks {@link Autoscaler#decide} for a count. The caller
 * applies the changed counts: the supervisor to its fleet, the operator to the resource's spec.
 * Synchronized: the reconcile loop decides while a {@code baton scale} may reset a unit.
 */
public final class AutoscaleLoop {

  private static final Logger LOG = Logger.getLogger(AutoscaleLoop.class.getName());

  /** What the loop needs to know about the cluster now. */
  public interface View {
    /** The unit's count now (desired groups, or a role's desired replicas). */
    int current(String unit);

    /** Ready workers of a role, or complete ready groups for {@code "groups"}. */
    int ready(String unit);

    /** The ready workers' metrics; unreadable workers left out. */
    List<WorkerMetrics> scrape();
  }

  private final String name;
  private final MetricsScraper scraper = new MetricsScraper();
  private final Map<String, Deque<MetricSample>> history = new HashMap<>();
  private final Map<String, Autoscaler.State> states = new HashMap<>();
  private final PdRatioTracker pdRatio = new PdRatioTracker();
  private Instant last = Instant.EPOCH;

  /**
   * @param name the cluster's name, for the log
   */
  public AutoscaleLoop(String name) {
    this.name = name;
  }

  /** The units of {@code spec} that scale on metrics, with their targets. */
  public static Map<String, AutoscaleTargets> units(ClusterSpec spec) {
    Map<String, AutoscaleTargets> units = new LinkedHashMap<>();
    if (spec.mode() == Mode.REPLICA && active(spec.groups().autoscale())) {
      units.put("groups", spec.groups().autoscale());
    }
    for (Role role : spec.independentlyScaledRoles()) {
      AutoscaleTargets t = spec.roles().get(role).autoscale();
      if (active(t)) {
        units.put(role.wireName(), t);
      }
    }
    return units;
  }

  private static boolean active(AutoscaleTargets t) {
    return t != null && t.any();
  }

  /**
   * Samples and decides when an interval has passed since the last round; returns the units whose
   * count should change (unit to new count), empty otherwise.
   */
  public synchronized Map<String, Integer> decide(ClusterSpec spec, View view, Instant now) {
    Map<String, AutoscaleTargets> units = units(spec);
    Map<String, Integer> changes = new LinkedHashMap<>();
    double interval = spec.autoscaler().intervalSeconds();
    if (units.isEmpty() || Duration.between(last, now).toMillis() < interval * 1000 - 50) {
      return changes;
    }
    last = now;
    List<WorkerMetrics> metrics = view.scrape();
    Map<String, Autoscaler.Decision> decisions = new LinkedHashMap<>();
    Instant horizon = now.minus(Polling.seconds(spec.autoscaler().stableWindowSeconds() + 1));
    for (Map.Entry<String, AutoscaleTargets> unit : units.entrySet()) {
      String u = unit.getKey();
      Deque<MetricSample> samples = history.computeIfAbsent(u, k -> new ArrayDeque<>());
      samples.addLast(scraper.sample(u, metrics, view.ready(u), now));
      while (!samples.isEmpty() && samples.peekFirst().time().isBefore(horizon)) {
        samples.removeFirst();
      }
      boolean groups = u.equals("groups");
      ClusterSpec.RoleSpec r = groups ? null : spec.roles().get(Role.parse(u));
      int min = groups ? spec.groups().min() : r.min();
      int max = groups ? spec.groups().max() : r.max();
      decisions.put(
          u,
          Autoscaler.decide(
              new Autoscaler.Policy(spec.autoscaler(), unit.getValue(), min, max),
              List.copyOf(samples),
              state(u, view.current(u)),
              now));
    }
    if (spec.autoscaler().pdRatio() != null) {
      coupleToRatio(spec, view, decisions, metrics, now);
    }
    for (Map.Entry<String, Autoscaler.Decision> entry : decisions.entrySet()) {
      String u = entry.getKey();
      Autoscaler.Decision decision = entry.getValue();
      int current = view.current(u);
      states.put(u, state(u, current).after(decision, now));
      if (decision.desired() != current) {
        LOG.info(
            name
                + ": autoscaler "
                + u
                + " "
                + current
                + " -> "
                + decision.desired()
                + " ("
                + decision.reason()
                + ")");
        changes.put(u, decision.desired());
      }
    }
    return changes;
  }

  /** A unit's scaler state at {@code current}. */
  private Autoscaler.State state(String unit, int current) {
    Autoscaler.State state = states.getOrDefault(unit, Autoscaler.State.initial(current));
    if (state.current() == current) {
      return state;
    }
    // changed by hand (baton scale, kubectl scale) since the last round
    return new Autoscaler.State(
        current, state.lastScaleUp(), state.lastScaleDown(), state.lastPanic());
  }

  /**
   * {@code autoscaler.pdRatio}: replaces the prefill and decode decisions with the coupled counts
   * ({@link PdRatioTracker#couple}; a role without targets follows); without a ratio yet (derived,
   * nothing finished), the roles stay independent.
   */
  private void coupleToRatio(
      ClusterSpec spec,
      View view,
      Map<String, Autoscaler.Decision> decisions,
      List<WorkerMetrics> metrics,
      Instant now) {
    ClusterSpec.PdRatioSpec pd = spec.autoscaler().pdRatio();
    Double ratio = pdRatio.ratio(pd, metrics, now, spec.autoscaler().stableWindowSeconds());
    if (ratio == null) {
      return;
    }
    String p = Role.PREFILL.wireName();
    String d = Role.DECODE.wireName();
    Autoscaler.Decision pOwn = decisions.get(p);
    Autoscaler.Decision dOwn = decisions.get(d);
    PdRatio.Counts c =
        PdRatioTracker.couple(
            spec,
            pOwn == null ? null : pOwn.desired(),
            dOwn == null ? null : dOwn.desired(),
            ratio);
    int pNow = view.current(p);
    int dNow = view.current(d);
    String why =
        String.format(
            java.util.Locale.ROOT,
            "pdRatio %.2f (%s): own decisions prefill %s, decode %s",
            ratio,
            pd.target() != null ? "target" : "derived",
            pOwn == null ? "follows" : pOwn.desired() + " [" + pOwn.reason() + "]",
            dOwn == null ? "follows" : dOwn.desired() + " [" + dOwn.reason() + "]");
    if (c.prefill() != pNow || c.decode() != dNow) {
      LOG.info(
          name
              + ": autoscaler: "
              + why
              + " -> prefill "
              + pNow
              + " -> "
              + c.prefill()
              + ", decode "
              + dNow
              + " -> "
              + c.decode());
    }
    decisions.put(p, coupled(pOwn, c.prefill(), why));
    decisions.put(d, coupled(dOwn, c.decode(), why));
  }

  private static Autoscaler.Decision coupled(Autoscaler.Decision own, int desired, String why) {
    boolean panic = own != null && own.panic();
    return own != null && own.desired() == desired
        ? own
        : new Autoscaler.Decision(desired, why, panic);
  }

  /** Forgets a unit's cool-downs (its count was set by hand). */
  public synchronized void reset(String unit) {
    states.remove(unit);
  }

  /** Forgets every unit's cool-downs (a new spec was applied). */
  public synchronized void resetAll() {
    states.clear();
  }
}
