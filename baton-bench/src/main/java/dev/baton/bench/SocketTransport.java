package dev.baton.bench;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A small HTTP/1.1 client over plain sockets for {@code http://} servers: blocking I/O on the
 * caller's virtual thread, keep-alive connections reused from a pool, fixed-length and chunked
 * bodies handed over as they arrive. It exists because the JDK client spent about half a
 * millisecond of CPU per request, too much to drive thousands of requests per second from two cores
 * (measured in docs/PERFORMANCE.md).
 */
final class SocketTransport implements HttpTransport {

  private static final int CONNECT_TIMEOUT_MS = 10_000;

  private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
  private volatile boolean closed;

  /** One kept-alive connection. */
  private static final class Connection {
    final String hostPort;
    final Socket socket;
    final BufferedInputStream in;
    final OutputStream out;

    Connection(String hostPort, Socket socket) throws IOException {
      this.hostPort = hostPort;
      this.socket = socket;
      this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
      this.out = socket.getOutputStream();
    }

    void closeQuietly() {
      try {
        socket.close();
      } catch (IOException e) {
        // already gone
      }
    }
  }

  @Override
  public Response post(URI uri, Map<String, String> headers, byte[] body, Duration timeout)
      throws IOException {
    String host = uri.getHost();
    int port = uri.getPort() > 0 ? uri.getPort() : 80;
    String hostPort = host + ":" + port;
    byte[] head = requestHead(uri, hostPort, headers, body.length);
    // A pooled connection may have been closed by the server meanwhile: then retry once on a
    // fresh one (nothing of the request was processed).
    Connection pooled = takeIdle(hostPort);
    if (pooled != null) {
      try {
        return exchange(pooled, head, body, timeout);
      } catch (StaleConnectionException e) {
        pooled.closeQuietly();
      }
    }
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
      Connection fresh = new Connection(hostPort, socket);
      return exchange(fresh, head, body, timeout);
    } catch (StaleConnectionException e) {
      socket.close();
      throw new EOFException("server closed the connection before answering");
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private Connection takeIdle(String hostPort) {
    for (Connection c : idle) {
      if (c.hostPort.equals(hostPort) && idle.remove(c)) {
        return c;
      }
    }
    return null;
  }

  /** Thrown when a connection yields nothing at all: safe to retry on another. */
  private static final class StaleConnectionException extends IOException {
    StaleConnectionException() {
      super("stale connection");
    }
  }

  private Response exchange(Connection c, byte[] head, byte[] body, Duration timeout)
      throws IOException {
    c.socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis())));
    try {
      c.out.write(head);
      c.out.write(body);
      c.out.flush();
    } catch (IOException e) {
      throw new StaleConnectionException();
    }
    String statusLine = readLine(c.in);
    if (statusLine == null) {
      throw new StaleConnectionException();
    }
    // "HTTP/1.1 200 OK"
    String[] parts = statusLine.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
      throw new IOException("not an HTTP response: " + StreamAccumulator.abbreviate(statusLine));
    }
    int status;
    try {
      status = Integer.parseInt(parts[1]);
    } catch (NumberFormatException e) {
      throw new IOException("bad HTTP status line: " + statusLine, e);
    }
    long contentLength = -1;
    boolean chunked = false;
    boolean keepAlive = !parts[0].equals("HTTP/1.0");
    String line;
    while ((line = readLine(c.in)) != null && !line.isEmpty()) {
      int colon = line.indexOf(':');
      if (colon <= 0) {
        continue;
      }
      String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = line.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> contentLength = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
        case "connection" -> {
          String v = value.toLowerCase(Locale.ROOT);
          if (v.contains("close")) {
            keepAlive = false;
          } else if (v.contains("keep-alive")) {
            keepAlive = true;
          }
        }
        default -> {}
      }
    }
    if (line == null) {
      throw new EOFException("connection closed inside the response headers");
    }
    BodyStream stream;
    if (chunked) {
      stream = new ChunkedBody(c.in);
    } else if (contentLength >= 0) {
      stream = new FixedBody(c.in, contentLength);
    } else {
      stream = new UntilCloseBody(c.in);
      keepAlive = false;
    }
    boolean reusable = keepAlive;
    return new Response() {
      @Override
      public int status() {
        return status;
      }

      @Override
      public InputStream body() {
        return stream;
      }

      @Override
      public void close() {
        if (reusable && stream.complete() && !closed) {
          idle.addFirst(c);
        } else {
          c.closeQuietly();
        }
      }
    };
  }

  private static byte[] requestHead(
      URI uri, String hostPort, Map<String, String> headers, int length) {
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    if (uri.getRawQuery() != null) {
      path += "?" + uri.getRawQuery();
    }
    StringBuilder head = new StringBuilder(256);
    head.append("POST ").append(path).append(" HTTP/1.1\r\n");
    head.append("Host: ").append(hostPort).append("\r\n");
    head.append("Content-Length: ").append(length).append("\r\n");
    head.append("Accept: application/json, text/event-stream\r\n");
    for (Map.Entry<String, String> h : headers.entrySet()) {
      head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
    }
    head.append("\r\n");
    return head.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** A CRLF- or LF-terminated header line, or null at end of stream. */
  static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder(64);
    int b;
    while ((b = in.read()) >= 0) {
      if (b == '\n') {
        int n = line.length();
        if (n > 0 && line.charAt(n - 1) == '\r') {
          line.setLength(n - 1);
        }
        return line.toString();
      }
      line.append((char) b);
      if (line.length() > 64 * 1024) {
        throw new IOException("HTTP line longer than 64 KiB");
      }
    }
    return line.isEmpty() ? null : line.toString();
  }

  /** A response body; {@link #complete} says whether it was read to its end. */
  private abstract static class BodyStream extends InputStream {
    abstract boolean complete();

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }
  }

  private static final class FixedBody extends BodyStream {
    private final InputStream in;
    private long remaining;

    FixedBody(InputStream in, long length) {
      this.in = in;
      this.remaining = length;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (remaining == 0) {
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, remaining));
      if (n < 0) {
        throw new EOFException("connection closed " + remaining + " bytes before the body's end");
      }
      remaining -= n;
      return n;
    }

    @Override
    boolean complete() {
      return remaining == 0;
    }
  }

  private static final class UntilCloseBody extends BodyStream {
    private final InputStream in;

    UntilCloseBody(InputStream in) {
      this.in = in;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return in.read(b, off, len);
    }

    @Override
    boolean complete() {
      return false;
    }
  }

  /** Transfer-Encoding: chunked, each chunk handed on as soon as its bytes arrive. */
  private static final class ChunkedBody extends BodyStream {
    private final InputStream in;
    private long chunkLeft;
    private boolean crlfPending;
    private boolean done;

    ChunkedBody(InputStream in) {
      this.in = in;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (done) {
        return -1;
      }
      if (chunkLeft == 0) {
        if (crlfPending) {
          // Read lazily: the CRLF after a chunk must not delay handing that chunk on.
          String crlf = readLine(in);
          if (crlf == null || !crlf.isEmpty()) {
            throw new IOException("chunk not followed by CRLF");
          }
          crlfPending = false;
        }
        String sizeLine = readLine(in);
        if (sizeLine == null) {
          throw new EOFException("connection closed inside a chunked body");
        }
        int semicolon = sizeLine.indexOf(';');
        String hex = (semicolon >= 0 ? sizeLine.substring(0, semicolon) : sizeLine).trim();
        try {
          chunkLeft = Long.parseLong(hex, 16);
        } catch (NumberFormatException e) {
          throw new IOException(
              "bad chunk size line: " + StreamAccumulator.abbreviate(sizeLine), e);
        }
        if (chunkLeft == 0) {
          String trailer;
          while ((trailer = readLine(in)) != null && !trailer.isEmpty()) {
            // trailers are not used
          }
          done = true;
          return -1;
        }
      }
      int n = in.read(b, off, (int) Math.min(len, chunkLeft));
      if (n < 0) {
        throw new EOFException("connection closed inside a chunk");
      }
      chunkLeft -= n;
      crlfPending = chunkLeft == 0;
      return n;
    }

    @Override
    boolean complete() {
      return done;
    }
  }

  @Override
  public void close() {
    closed = true;
    Connection c;
    while ((c = idle.pollFirst()) != null) {
      c.closeQuietly();
    }
  }
}
