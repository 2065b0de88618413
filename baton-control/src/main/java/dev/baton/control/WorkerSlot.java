package dev.baton.control;

import dev.baton.control.GatewayAdmin.WorkerInfo;
import dev.baton.control.ProcessLauncher.Launched;
import dev.baton.core.Role;
import java.time.Instant;

/**
 * One instance of a worker the supervisor runs: the worker's identity (id, role, group), the
 * instance's own name, ports and engine, and its observed state (process, phase, failures, restart
 * backoff). While a rolling update or a replacement runs, two instances of one worker exist.
 * Mutable; every field is guarded by the {@link Fleet}'s lock.
 */
final class WorkerSlot {

  /** A worker's lifecycle. */
  enum Phase {
    STARTING,
    READY,
    /**
     * Failed and out of traffic: the reconciler replaces it (the replacement waits the backoff).
     */
    BACKOFF,
    DRAINING,
    STOPPED
  }

  /** Unique within the fleet ({@code decode-0#3}): what a {@link LaunchBackend} observes. */
  final String instance;

  final String id;
  final Role role;
  final String group;
  final int port;
  final String url;
  final EngineType engine;
  int bootstrapPort;

  /** vLLM's NIXL side-channel port (VLLM_NIXL_SIDE_CHANNEL_PORT), distinct per worker; else 0. */
  int sideChannelPort;

  /** The GPU this worker gets ({gpu}): the lowest index no other live worker holds. */
  int gpu = -1;

  /** cpuPinning: the core slot this worker holds (see {@link Fleet#pinning}); else -1. */
  int coreSlot = -1;

  /** cpuPinning: the cores of {@link #coreSlot}; else {@code null}. */
  java.util.List<Integer> cores;

  /** The gang label the gateway pairs it under (see {@link WorkerReconciler}); null in pools. */
  String gang;

  WorkerPlan.Launch launch;
  Launched process;
  Phase phase = Phase.STARTING;
  boolean registered;
  int restarts;
  int failures;
  double backoffSeconds;
  Instant restartAt;
  Instant readySince;
  String lastError;

  WorkerSlot(
      String instance,
      String id,
      Role role,
      String group,
      int port,
      String url,
      EngineType engine) {
    this.instance = instance;
    this.id = id;
    this.role = role;
    this.group = group;
    this.port = port;
    this.url = url;
    this.engine = engine;
  }

  WorkerInfo info(ClusterSpec spec) {
    return new WorkerInfo(
        id, url, role, gang != null ? gang : group, WorkerPlan.poolFor(spec, role), bootstrapPort);
  }

  /** Counted towards the desired size: not draining and not stopped. */
  boolean active() {
    return phase != Phase.DRAINING && phase != Phase.STOPPED;
  }

  WorkerIdentity identity() {
    return WorkerIdentity.parse(id, role, group);
  }

  /** Whether a restart backoff still holds this (replacement) instance back. */
  boolean waitingForBackoff() {
    return phase == Phase.STARTING && restartAt != null && restartAt.isAfter(Instant.now());
  }
}
