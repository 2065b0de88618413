package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;

/**
 * {@code least-kv-cache}: the candidate whose scraped {@code vllm:kv_cache_usage_perc} is lowest;
 * ties (e.g. before the first scrape) go to the one with the lower load.
 */
final class LeastKvCachePolicy implements RoutingPolicy {

  @Override
  public String name() {
    return "least-kv-cache";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    Worker best = candidates.get(0);
    for (Worker w : candidates) {
      if (w.kvCacheUsage() < best.kvCacheUsage()
          || (w.kvCacheUsage() == best.kvCacheUsage() && w.load() < best.load())) {
        best = w;
      }
    }
    return best;
  }
}
