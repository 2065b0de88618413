package dev.baton.control;

import dev.baton.control.ClusterState.ProcessState;
import dev.baton.control.ClusterState.WorkerState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * Writes the cluster's state file in the run directory ({@code baton status} and {@code baton down}
 * read it), so other processes see the supervisor's view after every change.
 */
final class StatePublisher {

  private static final Logger LOG = Logger.getLogger(StatePublisher.class.getName());

  /** What the supervisor knows besides its workers. */
  record Header(
      String phase,
      String error,
      int controlPort,
      String mode,
      String model,
      String gatewayUrl,
      ProcessState gateway) {}

  private final RunDirectory run;

  StatePublisher(RunDirectory run) {
    this.run = run;
  }

  /** The state of this supervisor and its workers (snapshot taken under the fleet's lock). */
  ClusterState state(Header header, Fleet fleet) {
    List<WorkerState> rows = new ArrayList<>();
    synchronized (fleet.lock) {
      for (WorkerSlot w : fleet.all()) {
        rows.add(
            new WorkerState(
                w.id,
                w.role.wireName(),
                w.group,
                w.port,
                w.url,
                w.process == null ? 0 : w.process.pid(),
                w.process == null ? null : w.process.started(),
                w.phase.name().toLowerCase(Locale.ROOT),
                w.restarts,
                w.engine.wireName()));
      }
    }
    ProcessHandle self = ProcessHandle.current();
    return new ClusterState(
        run.name(),
        header.phase(),
        header.error(),
        self.pid(),
        self.info().startInstant().orElse(null),
        header.controlPort(),
        header.mode(),
        header.model(),
        header.gatewayUrl(),
        header.gateway(),
        rows);
  }

  void publish(ClusterState state) throws IOException {
    synchronized (run) {
      run.writeState(state);
    }
  }

  /** Publishes, logging instead of failing: a state file that lags is not worth a crash. */
  void publishQuietly(ClusterState state) {
    try {
      publish(state);
    } catch (IOException | UncheckedIOException e) {
      LOG.warning("cannot write state: " + e.getMessage());
    }
  }

  /** Removes the state file (the cluster is down). */
  void clear() throws IOException {
    Files.deleteIfExists(run.stateFile());
  }

  /** Writes a file only the owner can read (configs carrying tokens). */
  static void writePrivate(Path file, String text) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(
        file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(file, text);
  }
}
