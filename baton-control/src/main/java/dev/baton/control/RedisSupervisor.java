package dev.baton.control;

import dev.baton.control.ProcessLauncher.LaunchRequest;
import dev.baton.control.ProcessLauncher.Launched;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Runs the cluster's shared KV cache server when the spec says {@code kvTransfer.cache.redis:
 * local}: a {@code redis-server} on loopback, without persistence unless {@code persist} (then an
 * append-only file in the run directory), restarted with backoff when it exits. The workers'
 * offload connectors reconnect by themselves; while it is down they only miss.
 */
final class RedisSupervisor {

  private static final Logger LOG = Logger.getLogger(RedisSupervisor.class.getName());

  private final RunDirectory run;
  private final ProcessLauncher backend;
  private final Fleet fleet;
  private Launched process;
  private int port;
  private boolean persist;
  private Instant restartAt;
  private double backoffSeconds = 1;
  private int restarts;

  RedisSupervisor(RunDirectory run, ProcessLauncher backend, Fleet fleet) {
    this.run = run;
    this.backend = backend;
    this.fleet = fleet;
  }

  /** The redis-server on PATH; an IOException saying how to get one otherwise. */
  static Path binary() throws IOException {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, "redis-server");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IOException(
        "kvTransfer.cache.redis: local needs redis-server on PATH (bin/baton up installs"
            + " Debian's redis-server when it may; or: apt-get install redis-server)");
  }

  /**
   * Starts the server on the spec's port (else a free one; a restart keeps it) and waits until it
   * accepts.
   */
  int start(ClusterSpec.KvCacheSpec spec) throws IOException {
    persist = spec.persist();
    if (port == 0) {
      port = spec.port() != null ? spec.port() : fleet.freePort("127.0.0.1");
    }
    fleet.reservePort(port);
    Path dir = run.dir().resolve("redis");
    Files.createDirectories(dir);
    List<String> command =
        new ArrayList<>(
            List.of(
                binary().toString(),
                "--bind",
                "127.0.0.1",
                "--port",
                Integer.toString(port),
                "--dir",
                dir.toString(),
                "--protected-mode",
                "yes",
                "--save",
                "",
                "--appendonly",
                persist ? "yes" : "no"));
    Path log = run.logs().resolve("redis.log");
    process = backend.launch(new LaunchRequest("redis", command, Map.of(), log));
    boolean up = Polling.waitFor(this::accepts, process::isAlive, Duration.ofSeconds(20));
    if (!up) {
      throw new IOException(
          "redis-server "
              + (process.isAlive() ? "does not accept connections" : "exited")
              + Polling.logTail(log));
    }
    LOG.info("KV cache redis-server on 127.0.0.1:" + port + (persist ? " (persistent)" : ""));
    return port;
  }

  private boolean accepts() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Restarts an exited server after a backoff (same port); true when it restarted. */
  boolean superviseOnce(ClusterSpec.KvCacheSpec spec, double maxBackoffSeconds) {
    if (process == null || process.isAlive()) {
      return false;
    }
    Instant now = Instant.now();
    if (restartAt == null) {
      LOG.warning("redis-server exited with code " + process.exitCode() + "; restarting it");
      restartAt = now.plus(Polling.seconds(backoffSeconds));
      return false;
    }
    if (now.isBefore(restartAt)) {
      return false;
    }
    try {
      start(spec);
      restarts++;
      restartAt = null;
      backoffSeconds = 1;
      return true;
    } catch (IOException | RuntimeException e) {
      LOG.warning("redis-server restart failed: " + e.getMessage());
      backoffSeconds = Math.min(backoffSeconds * 2, maxBackoffSeconds);
      restartAt = now.plus(Polling.seconds(backoffSeconds));
      return false;
    }
  }

  /** The server's pid (0 before the first start). */
  long pid() {
    return process == null ? 0 : process.pid();
  }

  boolean running() {
    return process != null;
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
