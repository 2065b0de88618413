package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.List;

/** A policy that chooses the prefill and the decode worker together ({@code pd}). */
public interface PairPolicy extends RoutingPolicy {

  /** A chosen pair. */
  record Pair(Worker prefill, Worker decode) {}

  /**
   * Chooses a pair; in replica mode ({@code grouped}) both come from the same group. Returns null
   * when no valid pair exists.
   */
  Pair choosePair(
      List<Worker> prefills, List<Worker> decodes, boolean grouped, RouteRequest request);
}
