package dev.baton.control;

import dev.baton.control.ProcessLauncher.LaunchRequest;
import dev.baton.control.ProcessLauncher.Launched;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Runs the cluster's gateway process: starts it (config file with the admin token, health wait),
 * and restarts it on the same port with backoff when it exits, after which the supervisor registers
 * its ready workers again (a new gateway knows only its config file).
 */
final class GatewaySupervisor {

  private static final Logger LOG = Logger.getLogger(GatewaySupervisor.class.getName());

  private final RunDirectory run;
  private final ProcessLauncher backend;
  private final Toolchain toolchain;
  private final Fleet fleet;
  private final Supplier<ClusterSpec> spec;
  private Launched process;
  private int port;
  private GatewayAdmin admin;
  private Instant restartAt;
  private double backoffSeconds;
  private int restarts;

  GatewaySupervisor(
      RunDirectory run,
      ProcessLauncher backend,
      Toolchain toolchain,
      Fleet fleet,
      Supplier<ClusterSpec> spec) {
    this.run = run;
    this.backend = backend;
    this.toolchain = toolchain;
    this.fleet = fleet;
    this.spec = spec;
    this.backoffSeconds = spec.get().supervision().restartBackoffSeconds();
  }

  /** Starts the gateway and waits until it answers /health; throws with its log tail if not. */
  void start() throws IOException {
    ClusterSpec s = spec.get();
    if (port == 0) {
      // A restarted gateway keeps its port: clients and the state file already point there.
      port = s.gateway().port() != null ? s.gateway().port() : fleet.freePort(s.host());
    }
    fleet.reservePort(port);
    String adminToken = run.secret(run.tokenFile());
    StatePublisher.writePrivate(run.gatewayConfig(), WorkerPlan.gatewayConfig(s, port, adminToken));
    WorkerPlan.Launch launch =
        WorkerPlan.gateway(s, toolchain, run.gatewayConfig(), port, run.dir());
    Path log = run.logs().resolve("gateway.log");
    Launched started =
        backend.launch(new LaunchRequest("gateway", launch.command(), launch.env(), log));
    process = started;
    admin = new GatewayAdmin(url(), adminToken);
    Duration readyTimeout = Polling.seconds(s.supervision().readyTimeoutSeconds());
    boolean ready =
        Polling.waitFor(
            () -> Http.healthy(url() + "/health", MetricsScraper.TIMEOUT),
            started::isAlive,
            readyTimeout);
    if (!ready) {
      String why =
          started.isAlive()
              ? "not healthy after " + s.supervision().readyTimeoutSeconds() + " s"
              : "exited with code " + started.exitCode();
      throw new IOException("gateway " + why + Polling.logTail(log));
    }
  }

  /**
   * One supervision step: when the gateway has exited, schedule a restart after the backoff, and
   * once it is due, restart it and run {@code reRegister}. Returns true when a restart happened.
   */
  boolean superviseOnce(Runnable reRegister) {
    if (process == null || process.isAlive()) {
      return false;
    }
    ClusterSpec s = spec.get();
    Instant now = Instant.now();
    if (restartAt == null) {
      LOG.warning("gateway exited with code " + process.exitCode() + "; restarting it");
      restartAt = now.plus(Polling.seconds(backoffSeconds));
      return false;
    }
    if (now.isBefore(restartAt)) {
      return false;
    }
    try {
      start();
      reRegister.run();
      restarts++;
      restartAt = null;
      backoffSeconds = s.supervision().restartBackoffSeconds();
      return true;
    } catch (IOException | RuntimeException e) {
      LOG.warning("gateway restart failed: " + e.getMessage());
      if (process != null && process.isAlive()) {
        process.kill();
      }
      backoffSeconds = Math.min(backoffSeconds * 2, s.supervision().maxRestartBackoffSeconds());
      restartAt = now.plus(Polling.seconds(backoffSeconds));
      return false;
    }
  }

  String url() {
    return "http://" + Fleet.hostForUrl(spec.get().host()) + ":" + port;
  }

  int port() {
    return port;
  }

  /** The admin API client of the running gateway. */
  GatewayAdmin admin() {
    return admin;
  }

  /** The gateway process, or null before the first start. */
  Launched process() {
    return process;
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  int restarts() {
    return restarts;
  }

  void stop(Duration grace) {
    if (process != null) {
      process.stop(grace);
    }
  }
}
