package dev.baton.control;

import java.util.List;

/**
 * Where a cluster's workers run, as the {@link WorkerReconciler} sees it: it reports the worker
 * instances that exist (observed, so a restarted controller adopts what is already running), starts
 * an instance of a {@link WorkerIdentity}, and drains one. The backend owns everything
 * place-specific: ports, the launch plan, how readiness is known (a process's {@code /health}, a
 * pod's Ready condition) and how a drained instance leaves the gateway and stops.
 */
public interface LaunchBackend {

  /** Every live instance of the cluster's workers, in a stable order. */
  List<Observed> observe();

  /**
   * What an instance of {@code worker} started now would run, as a short comparable string (pods: a
   * hash of the pod spec; processes: whether its command line is the current plan): an instance of
   * another revision is rolled.
   */
  String revision(WorkerIdentity worker);

  /**
   * Starts one instance of {@code worker} at its current revision; returns without waiting. {@code
   * gang} is the label the gateway pairs it under (a replica group's prefill and decode workers
   * pair only within one gang; {@code null} for pool workers): the instance reports it back in
   * {@link Observed#gang}.
   */
  void launch(WorkerIdentity worker, String gang);

  /** Takes an instance out of traffic, lets its in-flight work finish, and stops it. */
  void drain(Observed instance);

  /** An instance's health as the backend observes it. */
  enum Health {
    /** Started, not (yet) ready. */
    STARTING,
    /** Serving. */
    READY,
    /** Exited or failed: it is replaced (with its whole group in replica mode). */
    FAILED
  }

  /**
   * One running (or exited) instance of a worker.
   *
   * @param instance the backend's name for it (a pod name); unique, several per worker while
   *     rolling
   * @param gang the label it was launched with ({@code null} for pool workers)
   */
  record Observed(
      String instance, WorkerIdentity worker, String revision, Health health, String gang) {
    public boolean ready() {
      return health == Health.READY;
    }
  }
}
