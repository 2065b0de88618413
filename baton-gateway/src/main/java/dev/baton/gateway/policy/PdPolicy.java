package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * {@code pd}: chooses the pair together. A prefill worker scores {@code (1 − prefix match) ×
 * prefixWeight + outstanding prefills / max outstanding}; a decode worker scores {@code running /
 * max running + KV usage}; lowest wins. In replica mode the pair with the lowest sum within one
 * group wins, so prefill and decode always share a group. Equal scores are broken at random, so
 * idle workers share a sequence of requests instead of the first one taking all.
 */
final class PdPolicy implements PairPolicy {
  private static final double PREFIX_WEIGHT = 1.0;

  /** Breaks ties: the gateway's thread-local generator, or a seeded one in the simulator. */
  private final RandomGenerator random;

  PdPolicy(RandomGenerator random) {
    this.random = random;
  }

  @Override
  public String name() {
    return "pd";
  }

  @Override
  public boolean usesPrefixIndex() {
    return true;
  }

  /** Alone (a colocated leg) the policy scores workers as decode workers. */
  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    double maxRunning = maxLoad(candidates);
    Best<Worker> best = new Best<>();
    for (Worker w : candidates) {
      best.offer(w, decodeScore(w, maxRunning), random);
    }
    return best.item;
  }

  @Override
  public Pair choosePair(
      List<Worker> prefills, List<Worker> decodes, boolean grouped, RouteRequest request) {
    double maxPrefills = 1;
    for (Worker w : prefills) {
      maxPrefills = Math.max(maxPrefills, w.prefillsInFlight());
    }
    double maxRunning = maxLoad(decodes);
    if (!grouped) {
      Best<Worker> p = new Best<>();
      for (Worker w : prefills) {
        p.offer(w, prefillScore(w, request, maxPrefills), random);
      }
      return p.item == null || decodes.isEmpty()
          ? null
          : new Pair(p.item, choose(decodes, request));
    }
    // A pair scores its prefill worker's score plus its decode worker's, so a group's best pair
    // is its best prefill worker with its best decode worker: one pass over each list, not one
    // over every prefill x decode pair (a fleet of 300P700D made that 210,000 scores a request).
    Map<String, Best<Worker>> prefillBest = new LinkedHashMap<>();
    for (Worker p : prefills) {
      prefillBest
          .computeIfAbsent(p.group(), g -> new Best<>())
          .offer(p, prefillScore(p, request, maxPrefills), random);
    }
    Map<String, Best<Worker>> decodeBest = new LinkedHashMap<>();
    for (Worker d : decodes) {
      decodeBest
          .computeIfAbsent(d.group(), g -> new Best<>())
          .offer(d, decodeScore(d, maxRunning), random);
    }
    Best<Pair> best = new Best<>();
    for (Map.Entry<String, Best<Worker>> e : prefillBest.entrySet()) {
      Best<Worker> p = e.getValue();
      Best<Worker> d = decodeBest.get(e.getKey());
      if (d != null) {
        best.offer(new Pair(p.item, d.item), p.score + d.score, random);
      }
    }
    return best.item;
  }

  /** The lowest-scoring item offered so far, equal scores broken at random. */
  private static final class Best<T> {
    T item;
    double score = Double.MAX_VALUE;
    int ties;

    void offer(T candidate, double s, RandomGenerator random) {
      if (s < score) {
        item = candidate;
        score = s;
        ties = 1;
      } else if (s == score && random.nextInt(++ties) == 0) {
        item = candidate;
      }
    }
  }

  private static double prefillScore(Worker w, RouteRequest request, double maxPrefills) {
    return (1 - request.matchRatio(w)) * PREFIX_WEIGHT + w.prefillsInFlight() / maxPrefills;
  }

  private static double decodeScore(Worker w, double maxRunning) {
    return w.load() / maxRunning + w.kvCacheUsage();
  }

  private static double maxLoad(List<Worker> workers) {
    double max = 1;
    for (Worker w : workers) {
      max = Math.max(max, w.load());
    }
    return max;
  }
}
