package dev.baton.core.http;

import dev.baton.core.HttpTimeouts;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Makes Helidon's idle-connection check (the server's {@code idleConnectionTimeout}) end every
 * connection that is not inside a request handler: silent ones, kept-alive ones nobody uses, and
 * slowloris clients that trickle the request line <em>or the headers</em>.
 *
 * <p>Why it is needed: Helidon 4 measures a connection's idle time from the start of its last
 * request (refreshed once its request line is read) and, when that exceeds the timeout, asks the
 * connection to close <em>gracefully</em> ({@code close(false)}): the connection finishes the
 * exchange it is in and then stops. A client that sends a request line at once and then one header
 * byte a second is "in an exchange" forever, so it was never cut (docs/SECURITY.md). This guard
 * wraps each HTTP/1 connection: while a request is in a handler (the routing {@link #filter} marks
 * it, so a long SSE stream is never cut) it reports no idle time; a connection that has been
 * outside any handler for the whole timeout (plus Helidon's one-second clock and one check period)
 * is interrupted when Helidon asks it to close, which closes its socket.
 *
 * <p>Install with {@code builder.protocolsDiscoverServices(false).addConnectionSelector(guard.
 * selector())} and {@code routing.addFilter(guard::filter)} (first filter).
 */
public final class ConnectionGuard {

  private final Http1ConnectionSelector http1;
  private final long stuckNanos;
  private final Map<String, Guarded> connections = new ConcurrentHashMap<>();

  /**
   * A guard for an HTTP/1.1 listener with Helidon's default HTTP/1 settings whose idle timeout and
   * check period are {@code timeouts}.
   */
  public ConnectionGuard(HttpTimeouts timeouts) {
    this.http1 = Http1ConnectionSelector.builder().config(Http1Config.create()).build();
    // Helidon measures idleness with a timestamp refreshed once a second.
    this.stuckNanos =
        timeouts.idle().plus(timeouts.checkPeriod()).plus(Duration.ofSeconds(1)).toNanos();
  }

  /** The connection selector to install on the listener (instead of the discovered HTTP/1 one). */
  public ServerConnectionSelector selector() {
    return new ServerConnectionSelector() {
      @Override
      public int bytesToIdentifyConnection() {
        return http1.bytesToIdentifyConnection();
      }

      @Override
      public Support supports(io.helidon.common.buffers.BufferData data) {
        return http1.supports(data);
      }

      @Override
      public Set<String> supportedApplicationProtocols() {
        return http1.supportedApplicationProtocols();
      }

      @Override
      public ServerConnection connection(ConnectionContext ctx) {
        String key = key(ctx.socketId(), ctx.childSocketId());
        Guarded g = new Guarded(http1.connection(ctx), key);
        connections.put(key, g);
        return g;
      }
    };
  }

  /** Routing filter: marks the request's connection busy until its handler has answered. */
  public void filter(FilterChain chain, RoutingRequest req, RoutingResponse res) {
    Guarded g = connections.get(key(req.serverSocketId(), req.socketId()));
    if (g == null) {
      chain.proceed();
      return;
    }
    g.inHandler = true;
    try {
      chain.proceed();
    } finally {
      g.lastHandlerExit = System.nanoTime();
      g.inHandler = false;
    }
  }

  /** Connections open now (for tests). */
  int openConnections() {
    return connections.size();
  }

  private static String key(String serverSocket, String socket) {
    return serverSocket + "/" + socket;
  }

  private final class Guarded implements ServerConnection {
    private final ServerConnection delegate;
    private final String key;
    private volatile boolean inHandler;
    private volatile long lastHandlerExit = System.nanoTime();

    Guarded(ServerConnection delegate, String key) {
      this.delegate = delegate;
      this.key = key;
    }

    @Override
    public void handle(Limit limit) throws InterruptedException {
      try {
        delegate.handle(limit);
      } finally {
        connections.remove(key);
      }
    }

    @Override
    public Duration idleTime() {
      return inHandler ? Duration.ZERO : delegate.idleTime();
    }

    @Override
    public void close(boolean interrupt) {
      // Outside a handler the connection is waiting for (or reading) a request: nothing to finish.
      // Helidon asks for a graceful close, which a connection blocked reading headers never
      // notices; interrupt it once it has gone the whole timeout (on a clock finer than Helidon's
      // one-second timestamps, plus that second) outside any handler. A request that just arrived
      // on a connection Helidon judged idle early is in its headers for milliseconds, so it is
      // not cut: Helidon's own graceful close lets it finish.
      boolean stuck = !inHandler && System.nanoTime() - lastHandlerExit > stuckNanos;
      delegate.close(interrupt || stuck);
    }
  }
}
