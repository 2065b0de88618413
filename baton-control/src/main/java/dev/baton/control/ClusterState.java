package dev.baton.control;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;
import java.util.List;

/**
 * What the supervisor publishes in the run directory ({@code state.json}) so that {@code baton
 * status}, {@code scale} and {@code down} find the cluster from any working directory, and so a
 * crashed supervisor's processes can still be found and stopped.
 *
 * @param phase {@code starting}, {@code ready}, {@code failed} or {@code stopping}
 * @param error why the cluster failed to start ({@code null} otherwise)
 * @param controlPort the supervisor's loopback control API
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ClusterState(
    String name,
    String phase,
    String error,
    long supervisorPid,
    Instant supervisorStarted,
    int controlPort,
    String mode,
    String model,
    String gatewayUrl,
    ProcessState gateway,
    List<WorkerState> workers) {

  public ClusterState {
    workers = workers == null ? List.of() : List.copyOf(workers);
  }

  /** A process the supervisor started: pid and start time (to tell a reused pid apart). */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record ProcessState(long pid, Instant started, int port) {}

  /**
   * One worker: its id, role, group ({@code null} in a pool), port, process, lifecycle state,
   * restarts so far and engine type.
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record WorkerState(
      String id,
      String role,
      String group,
      int port,
      String url,
      long pid,
      Instant started,
      String state,
      int restarts,
      String engine) {}
}
