package dev.baton.core.http;

import dev.baton.core.HttpTimeouts;
import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.buffers.DataWriter;
import io.helidon.common.concurrency.limits.Limit;
import io.helidon.common.socket.PeerInfo;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.ListenerContext;
import io.helidon.webserver.ProxyProtocolData;
import io.helidon.webserver.Router;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http1.Http1ConnectionSelector;
import io.helidon.webserver.spi.ServerConnection;
import io.helidon.webserver.spi.ServerConnectionSelector;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;

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
 * <p>The same close ends a request whose <em>body</em> has not arrived within the body timeout
 * (counted from the handler's start; a trickled body was otherwise unbounded in time): the guard
 * sees every read from the socket, and a handler that is still reading after the deadline is
 * interrupted. A handler that has its body (an SSE stream) reads no more and is never cut.
 *
 * <p>The guard also lets the HTTP/1.1-only Helidon answer HTTP/1.0 requests ({@link Http10Request},
 * {@link Http10Response}): it hands Helidon's connection a reader and writer that translate a
 * connection whose first request is HTTP/1.0, and ends that connection after the answer. Helidon
 * still owns the socket, so handlers see the real peer (the gateway's loopback-only admin API
 * depends on it).
 *
 * <p>Install with {@code builder.protocolsDiscoverServices(false).addConnectionSelector(guard.
 * selector())} and {@code routing.addFilter(guard::filter)} (first filter).
 */
public final class ConnectionGuard {

  private final Http1ConnectionSelector http1;
  private final long stuckNanos;
  private final long bodyNanos;
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
    this.bodyNanos = timeouts.body().toNanos();
  }

  /** The connection selector to install on the listener (instead of the discovered HTTP/1 one). */
  public ServerConnectionSelector selector() {
    return new ServerConnectionSelector() {
      @Override
      public int bytesToIdentifyConnection() {
        return http1.bytesToIdentifyConnection();
      }

      @Override
      public Support supports(BufferData data) {
        Support http11 = http1.supports(data);
        if (http11 == Support.SUPPORTED) {
          return http11;
        }
        data.rewind();
        int lf = data.indexOf((byte) '\n');
        return lf > 0 && data.readString(lf).endsWith(" HTTP/1.0\r") ? Support.SUPPORTED : http11;
      }

      @Override
      public Set<String> supportedApplicationProtocols() {
        return http1.supportedApplicationProtocols();
      }

      @Override
      public ServerConnection connection(ConnectionContext ctx) {
        String key = key(ctx.socketId(), ctx.childSocketId());
        Guarded g = new Guarded(ctx, key);
        connections.put(key, g);
        return g;
      }
    };
  }

  /**
   * Routing filter: marks the request's connection busy until its handler has answered (and starts
   * its body deadline); ends an HTTP/1.0 connection, or one whose client sent {@code Connection:
   * close}, after its answer.
   */
  public void filter(FilterChain chain, RoutingRequest req, RoutingResponse res) {
    Guarded g = connections.get(key(req.serverSocketId(), req.socketId()));
    if (g == null) {
      chain.proceed();
      closeWhenAsked(req);
      return;
    }
    g.handlerEntered = System.nanoTime();
    g.readAfterBodyDeadline = false;
    g.inHandler = true;
    try {
      chain.proceed();
    } finally {
      g.lastHandlerExit = System.nanoTime();
      g.inHandler = false;
    }
    if (g.request.isHttp10()) {
      throw new CloseConnectionException("an HTTP/1.0 exchange ends with its connection");
    }
    closeWhenAsked(req);
  }

  /**
   * RFC 9112 section 9.6: after answering a request that carries {@code Connection: close} the
   * server closes the connection. Helidon writes the header but keeps reading the socket, so a
   * client that never closes its side would hold the connection until the idle timeout.
   */
  private static void closeWhenAsked(RoutingRequest req) {
    // containsToken splits and streams every header value: check for the header first (it was
    // 12% of a proxied request's CPU in the gateway, where almost no client sends it).
    if (req.headers().contains(HeaderNames.CONNECTION)
        && req.headers().containsToken(HeaderValues.CONNECTION_CLOSE)) {
      throw new CloseConnectionException("the client sent Connection: close");
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
    private final DataReader socketReader;
    private final Http10Request request;
    private volatile boolean inHandler;
    private volatile long lastHandlerExit = System.nanoTime();
    private volatile long handlerEntered;
    private volatile boolean reading;
    private volatile boolean readAfterBodyDeadline;

    Guarded(ConnectionContext ctx, String key) {
      this.key = key;
      this.socketReader = ctx.dataReader();
      this.request = new Http10Request(this::pull, hostHeader(ctx.localPeer()));
      DataReader reader = DataReader.create(request);
      DataWriter writer = new Http10Response(ctx.dataWriter(), request::isHttp10);
      this.delegate = http1.connection(new TranslatedContext(ctx, reader, writer));
    }

    /** The socket's next bytes (null at its end), watched for the body deadline. */
    private byte[] pull() {
      if (inHandler && System.nanoTime() - handlerEntered > bodyNanos) {
        readAfterBodyDeadline = true;
      }
      reading = true;
      try {
        socketReader.ensureAvailable();
        return socketReader.readBytes(socketReader.available());
      } catch (DataReader.InsufficientDataAvailableException end) {
        return null;
      } finally {
        reading = false;
      }
    }

    /** A handler still reading its request's body after the body timeout. */
    private boolean bodyOverdue() {
      return inHandler
          && (readAfterBodyDeadline || (reading && System.nanoTime() - handlerEntered > bodyNanos));
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
      if (bodyOverdue()) {
        return Duration.ofDays(1); // past any idle timeout: Helidon's check asks it to close
      }
      return inHandler ? Duration.ZERO : delegate.idleTime();
    }

    @Override
    public void close(boolean interrupt) {
      // Outside a handler the connection is waiting for (or reading) a request: nothing to finish.
      // Helidon asks for a graceful close, which a connection blocked reading headers never
      // notices; interrupt it once it has gone the whole timeout (on a clock finer than Helidon's
      // one-second timestamps, plus that second) outside any handler, and only while it is blocked
      // reading the socket. A request that just arrived on a connection Helidon judged idle early
      // is being parsed or routed, not read, so it is not cut (on a loaded machine that took over
      // a second): Helidon's own graceful close lets it finish.
      boolean stuck = !inHandler && reading && System.nanoTime() - lastHandlerExit > stuckNanos;
      delegate.close(interrupt || stuck || bodyOverdue());
    }
  }

  /** The {@code Host} a request without one is given: this listener's address. */
  private static String hostHeader(PeerInfo local) {
    if (local.address() instanceof InetSocketAddress a && a.getAddress() != null) {
      String ip = a.getAddress().getHostAddress();
      return (ip.contains(":") ? "[" + ip.replaceFirst("%.*", "") + "]" : ip) + ":" + a.getPort();
    }
    return "localhost";
  }

  /** Helidon's connection context with the translating reader and writer. */
  private record TranslatedContext(ConnectionContext ctx, DataReader reader, DataWriter writer)
      implements ConnectionContext {

    @Override
    public DataReader dataReader() {
      return reader;
    }

    @Override
    public DataWriter dataWriter() {
      return writer;
    }

    @Override
    public ListenerContext listenerContext() {
      return ctx.listenerContext();
    }

    @Override
    public ExecutorService executor() {
      return ctx.executor();
    }

    @Override
    public Router router() {
      return ctx.router();
    }

    @Override
    public Optional<ProxyProtocolData> proxyProtocolData() {
      return ctx.proxyProtocolData();
    }

    @Override
    public io.helidon.common.socket.HelidonSocket serverSocket() {
      return ctx.serverSocket();
    }

    @Override
    public PeerInfo remotePeer() {
      return ctx.remotePeer();
    }

    @Override
    public PeerInfo localPeer() {
      return ctx.localPeer();
    }

    @Override
    public boolean isSecure() {
      return ctx.isSecure();
    }

    @Override
    public String socketId() {
      return ctx.socketId();
    }

    @Override
    public String childSocketId() {
      return ctx.childSocketId();
    }
  }
}
