package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How the gateway picks a request's prefill and decode workers from the candidates: a pair policy
 * ({@code pd}) picks both together; any other policy picks the prefill worker and then the decode
 * worker, in replica mode ({@code grouped}) from the prefill worker's group. Shared with the fleet
 * simulator, so a simulated fleet is routed by the same code as a real one.
 */
public final class PairChoice {
  private PairChoice() {}

  /** The pair, or null when none can be made (replica mode: no group has both roles). */
  public static PairPolicy.Pair choose(
      RoutingPolicy prefillPolicy,
      RoutingPolicy decodePolicy,
      List<Worker> prefills,
      List<Worker> decodes,
      boolean grouped,
      RouteRequest request) {
    if (prefillPolicy instanceof PairPolicy pd) {
      return pd.choosePair(prefills, decodes, grouped, request);
    }
    if (!grouped) {
      return new PairPolicy.Pair(
          prefillPolicy.choose(prefills, request), decodePolicy.choose(decodes, request));
    }
    // Replica mode: only prefill workers whose group has a decode worker can be chosen.
    // (A set of the decode workers' groups: a fleet of hundreds of groups is routed in one pass
    // over each list, not one over the decode workers per prefill worker.)
    Set<String> decodeGroups = new HashSet<>();
    for (Worker d : decodes) {
      decodeGroups.add(d.group());
    }
    List<Worker> pairable = new ArrayList<>();
    for (Worker p : prefills) {
      if (decodeGroups.contains(p.group())) {
        pairable.add(p);
      }
    }
    if (pairable.isEmpty()) {
      return null;
    }
    Worker prefill = prefillPolicy.choose(pairable, request);
    List<Worker> sameGroup = new ArrayList<>();
    for (Worker d : decodes) {
      if (Objects.equals(prefill.group(), d.group())) {
        sameGroup.add(d);
      }
    }
    return new PairPolicy.Pair(prefill, decodePolicy.choose(sameGroup, request));
  }
}
