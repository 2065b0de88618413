package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.random.RandomGenerator;

/** {@code least-request}: the candidate with the fewest running requests ({@link Worker#load}). */
final class LeastRequestPolicy implements RoutingPolicy {
  private final RandomGenerator random;

  LeastRequestPolicy(RandomGenerator random) {
    this.random = random;
  }

  @Override
  public String name() {
    return "least-request";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    return RoutingPolicy.leastLoaded(candidates, random);
  }
}
