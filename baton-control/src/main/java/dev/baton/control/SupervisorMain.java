package dev.baton.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * Entry point of the detached supervisor process that {@code baton up} starts: it reads the spec
 * from the run directory, runs the cluster, and exits when {@code baton down} stops it. A SIGTERM
 * stops the cluster too (shutdown hook), so no worker outlives its supervisor by accident.
 */
public final class SupervisorMain {

  private static final Logger LOG = Logger.getLogger(SupervisorMain.class.getName());

  /** Environment variable: stop the cluster when the process with this pid exits. */
  static final String EXIT_WITH_PID = "BATON_EXIT_WITH_PID";

  private SupervisorMain() {}

  /** Arguments: {@code <run-dir> <name> <resolved-model-path>}. */
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: SupervisorMain <run-dir> <name> <model>");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    RunDirectory run = new RunDirectory(args[1], dir);
    System.exit(run(run, args[2]));
  }

  static int run(RunDirectory run, String model) throws IOException, InterruptedException {
    ClusterSpec spec =
        SpecParser.parse(Files.readString(run.specFile()), run.specFile().toString());
    String secret = run.secret(run.secretFile());
    ClusterSupervisor supervisor =
        new ClusterSupervisor(
            run, spec, new LocalProcessLauncher(), Toolchain.current(), model, secret);
    Thread hook = new Thread(supervisor::close, "baton-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    String watched = System.getenv(EXIT_WITH_PID);
    if (watched != null && !watched.isBlank()) {
      // Tests ask for this: a test JVM killed half-way must not leave a cluster running.
      ProcessHandle.of(Long.parseLong(watched.strip()))
          .ifPresentOrElse(parent -> parent.onExit().thenRun(supervisor::close), supervisor::close);
    }
    try {
      supervisor.start();
    } catch (IOException | RuntimeException e) {
      LOG.severe("cluster failed to start: " + e.getMessage());
      return 1;
    }
    supervisor.awaitStopped();
    return 0;
  }
}
