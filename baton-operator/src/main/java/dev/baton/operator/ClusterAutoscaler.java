package dev.baton.operator;

import dev.baton.control.AutoscaleLoop;
import dev.baton.control.ClusterSpec;
import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.MetricsScraper;
import dev.baton.control.MetricsScraper.Target;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.control.WorkerIdentity;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The control plane's autoscaler run for a {@code BatonCluster}: one {@link AutoscaleLoop} per
 * cluster (the same loop {@code baton up} runs: {@link MetricsScraper} samples, {@link
 * dev.baton.control.Autoscaler#decide} with its stable and panic windows, cool-downs and bounds)
 * over the cluster's ready pods. The operator writes a changed count into the resource's spec, so
 * it is visible, survives an operator restart, and goes through the same validation as any edit.
 */
final class ClusterAutoscaler {

  private final Map<String, AutoscaleLoop> loops = new ConcurrentHashMap<>();
  private final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

  /** The units of {@code spec} that scale on metrics, with their targets. */
  static Map<String, AutoscaleTargets> autoscaled(ClusterSpec spec) {
    return AutoscaleLoop.units(spec);
  }

  /**
   * Samples the cluster's ready pods when an interval has passed and returns the units whose count
   * should change (unit name to new count); empty when nothing changes.
   */
  Map<String, Integer> decide(String key, ClusterDefinition def, List<Pod> ready, Instant now) {
    ClusterSpec spec = def.cluster();
    if (autoscaled(spec).isEmpty()) {
      return Map.of();
    }
    AutoscaleLoop loop = loops.computeIfAbsent(key, AutoscaleLoop::new);
    return loop.decide(
        spec,
        new AutoscaleLoop.View() {
          @Override
          public int current(String unit) {
            return unit.equals("groups")
                ? spec.groups().replicas()
                : spec.roles().get(Role.parse(unit)).replicas();
          }

          @Override
          public int ready(String unit) {
            return readyIn(unit, spec, ready);
          }

          @Override
          public List<WorkerMetrics> scrape() {
            return ClusterAutoscaler.this.scrape(def, ready);
          }
        },
        now);
  }

  /** Forgets a deleted cluster's histories. */
  void forget(String key) {
    loops.remove(key);
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
      targets.add(new Target(pod.getMetadata().getName(), w.role(), w.group(), url));
    }
    return MetricsScraper.scrapeAll(pool, targets);
  }
}
