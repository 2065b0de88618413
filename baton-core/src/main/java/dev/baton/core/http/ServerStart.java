package dev.baton.core.http;

import io.helidon.webserver.WebServer;

/** Starting a Helidon server so that a failure to listen is an error, not a log line. */
public final class ServerStart {
  private ServerStart() {}

  /**
   * Starts {@code server}; throws when it is not listening afterwards. Helidon logs a failed bind
   * ("failed to start, shutting down") and returns a stopped server whose port reads -1: a worker
   * went on as if it served, and its supervisor waited for a health check that could never pass.
   */
  public static WebServer start(WebServer server, String host, int port) {
    WebServer started = server.start();
    if (!started.isRunning() || started.port() < 0) {
      started.stop();
      throw new IllegalStateException(
          "cannot listen on "
              + host
              + ":"
              + port
              + " (the port is in use or not allowed here; the log above says which)");
    }
    return started;
  }
}
