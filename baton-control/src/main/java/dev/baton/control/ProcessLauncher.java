package dev.baton.control;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Starts and stops {@code baton up}'s processes (the supervisor, gateway, redis-server and each
 * worker instance of the local {@link ProcessBackend}). Workers as such, with their identity,
 * readiness and replacement rules, go through a {@link LaunchBackend}; this is the process
 * underneath a local one.
 */
public interface ProcessLauncher {

  /** Starts one process; its output goes to {@code request.logFile()}. */
  Launched launch(LaunchRequest request) throws IOException;

  /**
   * Finds a process a previous supervisor started (for {@code baton down} when the supervisor is
   * gone); {@code null} when it no longer runs. The start time guards against a reused pid.
   */
  Launched adopt(long pid, Instant started);

  /** What to run: an id for logs, the command line, extra environment, where output goes. */
  record LaunchRequest(String id, List<String> command, Map<String, String> env, Path logFile) {
    public LaunchRequest {
      command = List.copyOf(command);
      env = Map.copyOf(env);
    }
  }

  /** A started process (or pod): alive checks, and a stop that takes its whole tree down. */
  interface Launched {
    long pid();

    Instant started();

    boolean isAlive();

    /** Exit code once it has exited, else {@code null}. */
    Integer exitCode();

    /** Asks the process (and its children) to stop; kills them after {@code grace}. */
    void stop(Duration grace);

    /** Kills the process and its children at once (SIGKILL). */
    void kill();
  }
}
