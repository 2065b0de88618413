package dev.baton.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;

/**
 * The gateway's HTTP client toward workers: blocking calls on virtual threads, pooled keep-alive
 * connections, bodies read as streams so nothing is buffered whole. Three implementations (plain
 * sockets, Helidon, JDK) are kept so the choice stays measurable (docs/GATEWAY.md says which is the
 * default and why).
 */
interface UpstreamClient extends AutoCloseable {

  /** An upstream answer whose body is read as it arrives. */
  interface Response extends AutoCloseable {
    int status();

    /** The Content-Type header, or null. */
    String contentType();

    InputStream body();

    /** Drops the connection: the worker sees a disconnect and stops the request. */
    void abort();

    @Override
    void close();
  }

  /**
   * Sends a request ({@code body} null = GET); {@code timeoutMs} bounds connecting and waiting for
   * the response head. Connection failures are IOExceptions.
   */
  default Response send(URI uri, byte[] body, long timeoutMs) throws IOException {
    return send(uri, body, timeoutMs, java.util.Map.of());
  }

  /** {@link #send(URI, byte[], long)} with extra request headers. */
  Response send(URI uri, byte[] body, long timeoutMs, java.util.Map<String, String> headers)
      throws IOException;

  @Override
  void close();

  static UpstreamClient create(String kind) {
    return switch (kind) {
      case "jdk" -> new JdkUpstreamClient();
      case "helidon" -> new HelidonUpstreamClient();
      default -> new SocketUpstreamClient();
    };
  }
}
