package dev.baton.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.gateway.policy.RouteRequest;
import java.util.concurrent.Executor;

/**
 * What one request's flow needs from the gateway around it: the upstream client, an executor for
 * concurrent legs, metrics, and the two events it reports (a worker was chosen, a worker failed).
 * Narrow on purpose: the flow never reaches into the gateway's pools or config reloading.
 */
interface FlowContext {

  UpstreamClient client();

  Executor executor();

  GatewayMetrics metrics();

  /** Counts a worker chosen for a leg. */
  void selected(Worker worker, String leg);

  /** The routing view of a request body (one part of a request the gateway split up). */
  RouteRequest route(PoolRuntime pool, ObjectNode body, boolean chat, String sessionId);

  /** Passive health: one more failure; the breaker may eject the worker. */
  void workerFailed(Worker worker);
}
