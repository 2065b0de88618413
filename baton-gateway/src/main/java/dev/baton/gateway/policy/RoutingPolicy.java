package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;

/**
 * Picks one worker out of the available candidates for one leg of a request. Each policy is one
 * class registered by a stable name in {@link Policies}; a pool holds one instance per leg, so a
 * stateful policy (round-robin, session affinity) keeps separate state for prefill and decode.
 */
public interface RoutingPolicy {

  /** The name the config uses. */
  String name();

  /** Chooses among {@code candidates} (never empty, all available). */
  Worker choose(List<Worker> candidates, RouteRequest request);

  /** Whether the policy reads the prefix index (the pool then hashes prompts). */
  default boolean usesPrefixIndex() {
    return false;
  }

  /** The worker with the lowest load; ties are broken at random so bursts spread. */
  static Worker leastLoaded(List<Worker> candidates, java.util.random.RandomGenerator random) {
    Worker best = null;
    int ties = 0;
    for (Worker w : candidates) {
      if (best == null || w.load() < best.load()) {
        best = w;
        ties = 1;
      } else if (w.load() == best.load() && random.nextInt(++ties) == 0) {
        best = w;
      }
    }
    return best;
  }
}
