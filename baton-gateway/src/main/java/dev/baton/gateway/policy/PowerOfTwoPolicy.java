package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.random.RandomGenerator;

/** {@code power-of-two}: two random candidates, the less loaded of them. */
final class PowerOfTwoPolicy implements RoutingPolicy {
  private final RandomGenerator random;

  PowerOfTwoPolicy(RandomGenerator random) {
    this.random = random;
  }

  @Override
  public String name() {
    return "power-of-two";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    int n = candidates.size();
    if (n == 1) {
      return candidates.get(0);
    }
    int a = random.nextInt(n);
    int b = random.nextInt(n - 1);
    if (b >= a) {
      b++;
    }
    Worker wa = candidates.get(a);
    Worker wb = candidates.get(b);
    return wb.load() < wa.load() ? wb : wa;
  }
}
