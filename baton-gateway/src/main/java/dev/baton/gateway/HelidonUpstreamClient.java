package dev.baton.gateway;

import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;

/** {@link UpstreamClient} on Helidon's blocking HTTP/1.1 WebClient. */
final class HelidonUpstreamClient implements UpstreamClient {
  private final Http1Client client =
      Http1Client.builder()
          .connectTimeout(Duration.ofSeconds(5))
          .shareConnectionCache(false)
          .build();

  @Override
  public Response send(URI uri, byte[] body, long timeoutMs, java.util.Map<String, String> headers)
      throws IOException {
    HttpClientResponse r;
    try {
      Http1ClientRequest req =
          (body == null ? client.get() : client.post())
              .uri(uri)
              .readTimeout(Duration.ofMillis(timeoutMs));
      headers.forEach((name, value) -> req.header(HeaderNames.create(name), value));
      if (body == null) {
        r = req.request();
      } else {
        r = req.header(HeaderValues.CONTENT_TYPE_JSON).submit(body);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    } catch (RuntimeException e) {
      throw new IOException(e.getMessage(), e);
    }
    return new Response() {
      @Override
      public int status() {
        return r.status().code();
      }

      @Override
      public String contentType() {
        return r.headers().first(HeaderNames.CONTENT_TYPE).orElse(null);
      }

      @Override
      public InputStream body() {
        return lengthAware(r);
      }

      @Override
      public void abort() {
        try {
          r.inputStream().close();
        } catch (IOException | RuntimeException ignored) {
          // already broken
        }
        r.close();
      }

      @Override
      public void close() {
        r.close();
      }
    };
  }

  @Override
  public void close() {
    client.closeResource();
  }

  /**
   * The answer's body; readAllBytes of one with a Content-Length reads exactly that many bytes
   * (InputStream's own asks Helidon for 8 KiB+ reads, each a fresh buffer: most of the gateway's
   * allocation per proxied request).
   */
  private static InputStream lengthAware(HttpClientResponse r) {
    InputStream in = r.inputStream();
    long length = r.headers().contentLength().orElse(-1);
    if (length < 0 || length > Integer.MAX_VALUE - 8) {
      return in;
    }
    return new java.io.FilterInputStream(in) {
      @Override
      public byte[] readAllBytes() throws IOException {
        byte[] all = in.readNBytes((int) length);
        if (all.length < length) {
          throw new java.io.EOFException("the answer ended before its Content-Length");
        }
        // Helidon hands the connection back to its pool only once a read has seen the end.
        if (in.read() >= 0) {
          throw new IOException("the answer is longer than its Content-Length");
        }
        return all;
      }
    };
  }
}
