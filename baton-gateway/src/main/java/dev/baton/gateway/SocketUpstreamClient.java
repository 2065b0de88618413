package dev.baton.gateway;

import dev.baton.gateway.UpstreamConnection.Head;
import dev.baton.gateway.UpstreamConnection.NothingReceived;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link UpstreamClient} on plain sockets with its own small HTTP/1.1 codec ({@link
 * UpstreamConnection}): the default, because it is the cheapest way through the gateway measured
 * here (docs/PERFORMANCE.md, "Gateway speed"). Helidon's client keeps a reader thread on every
 * pooled connection to notice a worker closing it, so every exchange starts a virtual thread and
 * hands the answer's first byte across threads; here a pooled connection is simply taken, and one
 * that the worker closed while it sat idle is noticed by the request failing before any answer
 * byte, which is then sent once more on a fresh connection (the worker never saw the first one).
 * Connections idle longer than {@link #MAX_IDLE_NANOS} are not reused (vLLM's and SGLang's uvicorn
 * close them after 5 s). {@code https://} workers go through Helidon's client.
 */
final class SocketUpstreamClient implements UpstreamClient {

  /** Below uvicorn's default keep-alive timeout (5 s), so a worker rarely closes one under us. */
  static final long MAX_IDLE_NANOS = 4_000_000_000L;

  private static final int MAX_IDLE_PER_WORKER = 256;
  private static final int CONNECT_TIMEOUT_MS = 5000;

  private final Map<String, IdleConnections> idle = new ConcurrentHashMap<>();
  private volatile HelidonUpstreamClient tls;
  private volatile boolean closed;

  @Override
  public Response send(URI uri, byte[] body, long timeoutMs, Map<String, String> headers)
      throws IOException {
    if (!"http".equalsIgnoreCase(uri.getScheme())) {
      return tlsClient().send(uri, body, timeoutMs, headers);
    }
    String host = uri.getHost();
    int port = uri.getPort() < 0 ? 80 : uri.getPort();
    String key = host + ":" + port;
    byte[] request = request(uri, body, headers);
    int timeout = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeoutMs));
    IdleConnections pool = idle.computeIfAbsent(key, k -> new IdleConnections());
    UpstreamConnection c = pool.take();
    if (c != null) {
      try {
        return exchange(c, pool, request, timeout);
      } catch (NothingReceived e) {
        // The worker closed this pooled connection while it was idle (or as we sent): it never
        // saw the request, so it goes once more on a fresh connection.
      }
    }
    c = UpstreamConnection.open(host, port, Math.min(CONNECT_TIMEOUT_MS, timeout));
    return exchange(c, pool, request, timeout);
  }

  private Response exchange(
      UpstreamConnection c, IdleConnections pool, byte[] request, int timeoutMs)
      throws IOException {
    Head head;
    try {
      c.readTimeout(timeoutMs);
      c.send(request);
      head = c.readHead();
    } catch (IOException | RuntimeException e) {
      // only NothingReceived gets a second try (in send); a timeout means slow, not gone
      c.close();
      throw e;
    }
    return new SocketResponse(c, pool, head);
  }

  /** The request's bytes: head and body together, so that they leave in one write. */
  private static byte[] request(URI uri, byte[] body, Map<String, String> headers) {
    StringBuilder h = new StringBuilder(256);
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    h.append(body == null ? "GET " : "POST ").append(path);
    if (uri.getRawQuery() != null) {
      h.append('?').append(uri.getRawQuery());
    }
    h.append(" HTTP/1.1\r\nHost: ").append(hostHeader(uri)).append("\r\n");
    if (body != null) {
      h.append("Content-Type: application/json\r\nContent-Length: ")
          .append(body.length)
          .append("\r\n");
    }
    headers.forEach(
        (name, value) ->
            h.append(checked(name)).append(": ").append(checked(value)).append("\r\n"));
    h.append("\r\n");
    byte[] head = h.toString().getBytes(StandardCharsets.ISO_8859_1);
    if (body == null) {
      return head;
    }
    byte[] request = Arrays.copyOf(head, head.length + body.length);
    System.arraycopy(body, 0, request, head.length, body.length);
    return request;
  }

  private static String hostHeader(URI uri) {
    String authority = uri.getRawAuthority();
    int at = authority.lastIndexOf('@');
    return at >= 0 ? authority.substring(at + 1) : authority;
  }

  /** A header name or value the gateway sets itself; a line break in one would split the head. */
  private static String checked(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\r' || c == '\n' || c == 0 || c > 0xff) {
        throw new IllegalArgumentException("a header contains a line break or a non-Latin-1 char");
      }
    }
    return s;
  }

  private HelidonUpstreamClient tlsClient() {
    HelidonUpstreamClient c = tls;
    if (c == null) {
      synchronized (this) {
        if (tls == null) {
          tls = new HelidonUpstreamClient();
        }
        c = tls;
      }
    }
    return c;
  }

  @Override
  public void close() {
    closed = true;
    for (IdleConnections p : idle.values()) {
      p.closeAll();
    }
    if (tls != null) {
      tls.close();
    }
  }

  /** One worker's idle keep-alive connections, most recently used first. */
  private final class IdleConnections {
    private final ConcurrentLinkedDeque<UpstreamConnection> deque = new ConcurrentLinkedDeque<>();
    private final AtomicInteger size = new AtomicInteger();

    /** A pooled connection that is still fresh enough to use, or null. */
    UpstreamConnection take() {
      long now = System.nanoTime();
      UpstreamConnection c;
      while ((c = deque.pollFirst()) != null) {
        size.decrementAndGet();
        if (now - c.idleSince() < MAX_IDLE_NANOS && c.reusable()) {
          return c;
        }
        c.close();
      }
      return null;
    }

    void release(UpstreamConnection c) {
      if (closed || !c.reusable()) {
        c.close();
        return;
      }
      c.idleSince(System.nanoTime());
      deque.offerFirst(c);
      if (size.incrementAndGet() > MAX_IDLE_PER_WORKER) {
        UpstreamConnection oldest = deque.pollLast();
        if (oldest != null) {
          size.decrementAndGet();
          oldest.close();
        }
      }
      if (closed) {
        closeAll();
      }
    }

    void closeAll() {
      UpstreamConnection c;
      while ((c = deque.pollFirst()) != null) {
        size.decrementAndGet();
        c.close();
      }
    }
  }

  /**
   * An answer on a pooled connection; the connection goes back to the pool once read to its end.
   */
  private static final class SocketResponse implements Response {
    private final UpstreamConnection connection;
    private final IdleConnections pool;
    private final Head head;
    private final InputStream body;
    private boolean aborted;
    private boolean closed;

    SocketResponse(UpstreamConnection connection, IdleConnections pool, Head head) {
      this.connection = connection;
      this.pool = pool;
      this.head = head;
      this.body = connection.body(head);
    }

    @Override
    public int status() {
      return head.status();
    }

    @Override
    public String contentType() {
      return head.contentType();
    }

    @Override
    public InputStream body() {
      return body;
    }

    /** Once closed, the connection may carry another request: an abort then must not touch it. */
    @Override
    public synchronized void abort() {
      if (closed) {
        return;
      }
      aborted = true;
      connection.close(); // wakes a read blocked on it, from any thread
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      if (!aborted && !head.close() && UpstreamConnection.complete(body)) {
        pool.release(connection);
      } else {
        connection.close();
      }
    }
  }
}
