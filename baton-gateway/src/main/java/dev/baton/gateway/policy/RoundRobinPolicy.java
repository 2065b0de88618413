package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** {@code round-robin}: candidates in turn (over the current candidate list). */
final class RoundRobinPolicy implements RoutingPolicy {
  private final AtomicLong next = new AtomicLong();

  @Override
  public String name() {
    return "round-robin";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    return candidates.get((int) Math.floorMod(next.getAndIncrement(), (long) candidates.size()));
  }
}
