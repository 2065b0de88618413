package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.random.RandomGenerator;

/** {@code random}: a uniformly random candidate. */
final class RandomPolicy implements RoutingPolicy {
  private final RandomGenerator random;

  RandomPolicy(RandomGenerator random) {
    this.random = random;
  }

  @Override
  public String name() {
    return "random";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    return candidates.get(random.nextInt(candidates.size()));
  }
}
