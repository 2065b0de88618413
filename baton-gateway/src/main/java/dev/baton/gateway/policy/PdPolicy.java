package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.Objects;
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
    Worker best = null;
    double bestScore = Double.MAX_VALUE;
    int ties = 0;
    for (Worker w : candidates) {
      double s = decodeScore(w, maxRunning);
      if (s < bestScore) {
        best = w;
        bestScore = s;
        ties = 1;
      } else if (s == bestScore && random.nextInt(++ties) == 0) {
        best = w;
      }
    }
    return best;
  }

  @Override
  public Pair choosePair(
      List<Worker> prefills, List<Worker> decodes, boolean grouped, RouteRequest request) {
    double maxPrefills = 1;
    for (Worker w : prefills) {
      maxPrefills = Math.max(maxPrefills, w.prefillsInFlight());
    }
    double maxRunning = maxLoad(decodes);
    Pair best = null;
    double bestScore = Double.MAX_VALUE;
    int ties = 0;
    if (!grouped) {
      Worker p = null;
      double ps = Double.MAX_VALUE;
      for (Worker w : prefills) {
        double s = prefillScore(w, request, maxPrefills);
        if (s < ps) {
          p = w;
          ps = s;
          ties = 1;
        } else if (s == ps && random.nextInt(++ties) == 0) {
          p = w;
        }
      }
      return p == null || decodes.isEmpty() ? null : new Pair(p, choose(decodes, request));
    }
    for (Worker p : prefills) {
      double ps = prefillScore(p, request, maxPrefills);
      for (Worker d : decodes) {
        if (!Objects.equals(p.group(), d.group())) {
          continue;
        }
        double score = ps + decodeScore(d, maxRunning);
        if (score < bestScore) {
          bestScore = score;
          best = new Pair(p, d);
          ties = 1;
        } else if (score == bestScore && random.nextInt(++ties) == 0) {
          best = new Pair(p, d);
        }
      }
    }
    return best;
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
