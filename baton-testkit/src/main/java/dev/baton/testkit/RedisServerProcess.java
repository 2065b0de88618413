package dev.baton.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A real {@code redis-server} for tests: loopback only, a free port, no persistence (no RDB, no
 * AOF), its own temporary directory. {@link #stop()} kills it (a test of a Redis outage), {@link
 * #restart()} starts it again on the same port (empty). Always {@link #close()} it.
 */
public final class RedisServerProcess implements AutoCloseable {

  private final Path binary;
  private final Path dir;
  private final int port;
  private Process process;

  private RedisServerProcess(Path binary, int port) throws IOException {
    this.binary = binary;
    this.port = port;
    this.dir = Files.createTempDirectory("baton-redis-");
    start();
  }

  /** The redis-server on PATH, if any (bin/test installs it when it can). */
  public static Optional<Path> findBinary() {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(entry.isEmpty() ? "." : entry, "redis-server");
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    for (String fixed : List.of("/usr/bin/redis-server", "/usr/local/bin/redis-server")) {
      if (Files.isExecutable(Path.of(fixed))) {
        return Optional.of(Path.of(fixed));
      }
    }
    return Optional.empty();
  }

  /** Starts one on a free loopback port; fails when no redis-server is installed. */
  public static RedisServerProcess start(Path binary) {
    try {
      return new RedisServerProcess(binary, freePort());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private void start() throws IOException {
    process =
        new ProcessBuilder(
                binary.toString(),
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString(),
                "--protected-mode",
                "yes")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("redis.log").toFile())
            .start();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(
            "redis-server exited at start: " + Files.readString(dir.resolve("redis.log")));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        // Not listening yet: poll again shortly (a process start, nothing to be notified by).
        java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
      }
    }
    process.destroyForcibly();
    throw new IOException("redis-server did not listen on port " + port + " within 10 s");
  }

  public int port() {
    return port;
  }

  /** {@code redis://127.0.0.1:port/0}. */
  public String url() {
    return "redis://127.0.0.1:" + port + "/0";
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown) and waits until it is gone. */
  public void stop() {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Starts the server again on the same port (it comes back empty: no persistence). */
  public void restart() {
    stop();
    try {
      start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    stop();
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(dir);
    } catch (IOException ignored) {
      // a temporary directory left behind is harmless
    }
  }
}
