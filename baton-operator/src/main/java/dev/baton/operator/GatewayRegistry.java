package dev.baton.operator;

import dev.baton.control.GatewayAdmin;
import dev.baton.control.GatewayAdmin.WorkerInfo;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Keeps a cluster's gateway in step with its ready workers through the gateway's admin API (the
 * control plane's {@link GatewayAdmin}): workers join and leave without a gateway restart. A
 * restarted gateway pod (new uid) starts empty, so every ready worker is registered again.
 */
public class GatewayRegistry {

  private static final Logger LOG = Logger.getLogger(GatewayRegistry.class.getName());

  private record Known(String gatewayPod, Set<WorkerInfo> workers) {}

  private final Map<String, Known> known = new ConcurrentHashMap<>();

  /**
   * Registers workers the gateway lacks and removes the ones gone; {@code gatewayPod} is the ready
   * gateway pod's uid ({@code null}: no gateway ready, nothing to do yet).
   */
  public void sync(
      String cluster, String baseUrl, String token, String gatewayPod, List<WorkerInfo> ready) {
    if (gatewayPod == null) {
      known.remove(cluster);
      return;
    }
    Known before = known.get(cluster);
    Set<WorkerInfo> registered =
        before != null && before.gatewayPod().equals(gatewayPod)
            ? new HashSet<>(before.workers())
            : new HashSet<>();
    GatewayAdmin admin = new GatewayAdmin(baseUrl, token);
    for (WorkerInfo gone : Set.copyOf(registered)) {
      if (!ready.contains(gone)) {
        try {
          admin.deregister(gone);
          registered.remove(gone);
        } catch (IOException e) {
          LOG.warning("could not remove " + gone.id() + " from the gateway: " + e.getMessage());
        }
      }
    }
    for (WorkerInfo worker : ready) {
      if (!registered.contains(worker)) {
        try {
          admin.register(worker);
          registered.add(worker);
        } catch (IOException e) {
          LOG.warning("could not register " + worker.id() + ": " + e.getMessage());
        }
      }
    }
    known.put(cluster, new Known(gatewayPod, Set.copyOf(registered)));
  }

  /** Removes one worker at once (before it is drained), so no new request reaches it. */
  public void remove(String cluster, String baseUrl, String token, WorkerInfo worker) {
    try {
      new GatewayAdmin(baseUrl, token).deregister(worker);
    } catch (IOException e) {
      LOG.warning("could not remove " + worker.id() + " from the gateway: " + e.getMessage());
    }
    known.computeIfPresent(
        cluster,
        (k, v) -> {
          Set<WorkerInfo> rest = new HashSet<>(v.workers());
          rest.remove(worker);
          return new Known(v.gatewayPod(), Set.copyOf(rest));
        });
  }

  /** Forgets a deleted cluster. */
  public void forget(String cluster) {
    known.remove(cluster);
  }
}
