package dev.baton.gateway;

import dev.baton.core.Role;
import dev.baton.gateway.policy.RouteRequest;
import java.util.ArrayList;
import java.util.List;

/** Worker objects for policy tests (no network involved: policies only read load numbers). */
public final class TestWorkers {
  private TestWorkers() {}

  public static Worker worker(int i, Role role, String group) {
    Worker w =
        new Worker(
            new WorkerSpec("http://10.0.0." + i + ":8000", role, group, 8998),
            new CircuitBreaker(3, 1000, System::nanoTime));
    w.slot(i);
    return w;
  }

  public static List<Worker> workers(int n) {
    List<Worker> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(worker(i, Role.BOTH, null));
    }
    return out;
  }

  public static RouteRequest request() {
    return RouteRequest.of(null, new long[0], null);
  }

  /** Makes the gateway count {@code n} requests in flight on the worker. */
  public static void load(Worker w, int n) {
    for (int i = 0; i < n; i++) {
      w.begin(false);
    }
  }
}
