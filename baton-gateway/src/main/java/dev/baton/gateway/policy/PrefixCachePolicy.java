package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * {@code prefix-cache}: the candidate that was already sent the longest prefix of this prompt, when
 * that prefix is at least {@code cache_threshold} of it; otherwise, and whenever the load is
 * imbalanced (max − min > {@code balance_abs} and max > min × {@code balance_rel}), the least
 * loaded candidate.
 */
final class PrefixCachePolicy implements RoutingPolicy {
  private final PrefixIndexConfig config;
  private final RandomGenerator random;

  PrefixCachePolicy(PrefixIndexConfig config, RandomGenerator random) {
    this.config = config;
    this.random = random;
  }

  @Override
  public String name() {
    return "prefix-cache";
  }

  @Override
  public boolean usesPrefixIndex() {
    return true;
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    double min = Double.MAX_VALUE;
    double max = 0;
    for (Worker w : candidates) {
      min = Math.min(min, w.load());
      max = Math.max(max, w.load());
    }
    boolean imbalanced = max - min > config.balanceAbs() && max > min * config.balanceRel();
    if (!imbalanced) {
      Worker best = null;
      for (Worker w : candidates) {
        int m = request.matchedBlocks(w);
        if (best == null
            || m > request.matchedBlocks(best)
            || (m == request.matchedBlocks(best) && w.load() < best.load())) {
          best = w;
        }
      }
      if (best != null
          && request.matchedBlocks(best) > 0
          && request.matchRatio(best) >= config.cacheThreshold()) {
        return best;
      }
    }
    return RoutingPolicy.leastLoaded(candidates, random);
  }
}
