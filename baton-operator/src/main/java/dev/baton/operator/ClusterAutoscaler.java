package dev.baton.operator;

import dev.baton.control.Autoscaler;
import dev.baton.control.ClusterSpec;
import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.MetricSample;
import dev.baton.control.MetricsScraper;
import dev.baton.control.MetricsScraper.Target;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.control.Mode;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * The control plane's autoscaler run for a {@code BatonCluster}: the ready pods' {@code /metrics}
 * are scraped and aggregated by the control plane's {@link MetricsScraper}, and {@link
 * Autoscaler#decide} (the same pure function {@code baton up} uses: stable and panic windows,
 * cool-downs, bounds) turns each autoscaled unit's history into a count. Units: the groups in
 * replica mode, pool roles and {@code both} with {@code autoscale} targets. The operator writes a
 * changed count into the resource's spec, so it is visible, survives an operator restart, and goes
 * through the same validation as any edit.
 */
final class ClusterAutoscaler {

  private static final Logger LOG = Logger.getLogger(ClusterAutoscaler.class.getName());

  private static final class Unit {
    final Deque<MetricSample> history = new ArrayDeque<>();
    Autoscaler.State state;
    Instant last = Instant.EPOCH;
  }

  private final Map<String, MetricsScraper> scrapers = new ConcurrentHashMap<>();
  private final Map<String, Unit> units = new ConcurrentHashMap<>();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  /** The units of {@code spec} that scale on metrics, with their targets. */
  static Map<String, AutoscaleTargets> autoscaled(ClusterSpec spec) {
    Map<String, AutoscaleTargets> out = new LinkedHashMap<>();
    if (spec.mode() == Mode.REPLICA
        && spec.groups().autoscale() != null
        && spec.groups().autoscale().any()) {
      out.put("groups", spec.groups().autoscale());
    }
    for (Role role : spec.independentlyScaledRoles()) {
      AutoscaleTargets targets = spec.roles().get(role).autoscale();
      if (targets != null && targets.any()) {
        out.put(role.wireName(), targets);
      }
    }
    return out;
  }

  /**
   * Samples the cluster's ready pods when an interval has passed and returns the units whose count
   * should change (unit name to new count); empty when nothing changes.
   */
  Map<String, Integer> decide(String key, ClusterDefinition def, List<Pod> ready, Instant now) {
    ClusterSpec spec = def.cluster();
    Map<String, AutoscaleTargets> scaled = autoscaled(spec);
    Map<String, Integer> changes = new LinkedHashMap<>();
    if (scaled.isEmpty()) {
      return changes;
    }
    double interval = spec.autoscaler().intervalSeconds();
    List<WorkerMetrics> metrics = null;
    for (Map.Entry<String, AutoscaleTargets> entry : scaled.entrySet()) {
      String name = entry.getKey();
      Unit unit = units.computeIfAbsent(key + "/" + name, k -> new Unit());
      if (Duration.between(unit.last, now).toMillis() < interval * 1000 - 50) {
        continue;
      }
      unit.last = now;
      if (metrics == null) {
        metrics = scrape(def, ready);
      }
      boolean groups = name.equals("groups");
      int current =
          groups ? spec.groups().replicas() : spec.roles().get(Role.parse(name)).replicas();
      int min = groups ? spec.groups().min() : spec.roles().get(Role.parse(name)).min();
      int max = groups ? spec.groups().max() : spec.roles().get(Role.parse(name)).max();
      MetricSample sample =
          scrapers
              .computeIfAbsent(key, k -> new MetricsScraper())
              .sample(name, metrics, readyIn(name, spec, ready), now);
      unit.history.addLast(sample);
      Instant horizon =
          now.minusMillis((long) ((spec.autoscaler().stableWindowSeconds() + 1) * 1000));
      while (!unit.history.isEmpty() && unit.history.peekFirst().time().isBefore(horizon)) {
        unit.history.removeFirst();
      }
      Autoscaler.State state = unit.state == null ? Autoscaler.State.initial(current) : unit.state;
      if (state.current() != current) {
        state =
            new Autoscaler.State(
                current, state.lastScaleUp(), state.lastScaleDown(), state.lastPanic());
      }
      Autoscaler.Decision decision =
          Autoscaler.decide(
              new Autoscaler.Policy(spec.autoscaler(), entry.getValue(), min, max),
              List.copyOf(unit.history),
              state,
              now);
      unit.state = state.after(decision, now);
      if (decision.desired() != current) {
        LOG.info(
            key
                + ": autoscaler "
                + name
                + " "
                + current
                + " -> "
                + decision.desired()
                + " ("
                + decision.reason()
                + ")");
        changes.put(name, decision.desired());
      }
    }
    return changes;
  }

  /** Forgets a deleted cluster's histories. */
  void forget(String key) {
    scrapers.remove(key);
    units.keySet().removeIf(k -> k.startsWith(key + "/"));
  }

  /** Ready workers of a role, or complete groups. */
  private static int readyIn(String unit, ClusterSpec spec, List<Pod> ready) {
    if (!unit.equals("groups")) {
      return (int)
          ready.stream()
              .filter(p -> unit.equals(p.getMetadata().getLabels().get(Labels.ROLE)))
              .count();
    }
    Map<String, Integer> members = new LinkedHashMap<>();
    ready.stream()
        .map(p -> p.getMetadata().getLabels().get(Labels.GROUP))
        .filter(Objects::nonNull)
        .forEach(g -> members.merge(g, 1, Integer::sum));
    int size = ClusterObjects.groupSize(spec);
    return (int) members.values().stream().filter(n -> n >= size).count();
  }

  private List<WorkerMetrics> scrape(ClusterDefinition def, List<Pod> ready) {
    List<Target> targets = new ArrayList<>();
    for (Pod pod : ready) {
      WorkerIdentity w = ClusterObjects.workerOf(pod);
      String url =
          "http://" + pod.getStatus().getPodIP() + ":" + PodFactory.port(def.cluster(), w.role());
      targets.add(new Target(w.id(), w.role(), w.group(), url));
    }
    return MetricsScraper.scrapeAll(pool, targets);
  }
}
