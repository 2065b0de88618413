package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The socket HTTP client against a raw server that answers with hand-written bytes: framing
 * variants (fixed length, chunked with extensions and trailers, until close), keep-alive reuse, a
 * pooled connection the server closed, and broken answers.
 */
class SocketTransportTest {

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  /** A server that answers every request on a connection with {@code answer(n)}. */
  private URI server(Function<Integer, String> answer, boolean closeAfterEach) throws IOException {
    ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    open.add(listener);
    AtomicInteger count = new AtomicInteger();
    Thread.ofVirtual()
        .start(
            () -> {
              while (!listener.isClosed()) {
                try {
                  Socket s = listener.accept();
                  open.add(s);
                  Thread.ofVirtual()
                      .start(
                          () -> {
                            try (s) {
                              InputStream in = s.getInputStream();
                              OutputStream out = s.getOutputStream();
                              while (true) {
                                int length = 0;
                                String line;
                                while ((line = SocketTransport.readLine(in)) != null
                                    && !line.isEmpty()) {
                                  if (line.toLowerCase().startsWith("content-length:")) {
                                    length = Integer.parseInt(line.substring(15).trim());
                                  }
                                }
                                if (line == null) {
                                  return;
                                }
                                in.readNBytes(length);
                                out.write(
                                    answer
                                        .apply(count.getAndIncrement())
                                        .getBytes(StandardCharsets.UTF_8));
                                out.flush();
                                if (closeAfterEach) {
                                  return;
                                }
                              }
                            } catch (IOException e) {
                              // client gone
                            }
                          });
                } catch (IOException e) {
                  return;
                }
              }
            });
    return URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/v1/completions");
  }

  private static String body(SocketTransport t, URI uri) throws Exception {
    try (HttpTransport.Response r =
        t.post(
            uri,
            Map.of("Content-Type", "application/json"),
            "{}".getBytes(),
            Duration.ofSeconds(5))) {
      return r.status() + " " + new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void readsFixedLengthChunkedAndUntilCloseBodies() throws Exception {
    try (SocketTransport t = new SocketTransport()) {
      URI fixed = server(n -> "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false);
      assertThat(body(t, fixed)).isEqualTo("200 hello");
      URI chunked =
          server(
              n ->
                  "HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n"
                      + "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
              false);
      assertThat(body(t, chunked)).isEqualTo("503 abcde");
      URI untilClose = server(n -> "HTTP/1.0 200 OK\r\n\r\nall of it", true);
      assertThat(body(t, untilClose)).isEqualTo("200 all of it");
    }
  }

  @Test
  void reusesKeptAliveConnectionsAndRetriesOnesTheServerClosed() throws Exception {
    try (SocketTransport t = new SocketTransport()) {
      URI keep = server(n -> "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + n, false);
      assertThat(body(t, keep)).isEqualTo("200 0");
      assertThat(body(t, keep)).isEqualTo("200 1"); // same connection: the server counts on
      // This server closes every connection after one answer, without saying so: the pooled
      // connection is stale on the next request, which must still succeed on a fresh one.
      URI closing = server(n -> "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true);
      for (int i = 0; i < 5; i++) {
        assertThat(body(t, closing)).isEqualTo("200 ok");
      }
    }
  }

  @Test
  void brokenAnswersAreIoErrors() throws Exception {
    try (SocketTransport t = new SocketTransport()) {
      URI garbage = server(n -> "SMTP ready\r\n\r\n", true);
      assertThatThrownBy(() -> body(t, garbage))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("not an HTTP response");
      URI shortBody = server(n -> "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", true);
      assertThatThrownBy(() -> body(t, shortBody)).isInstanceOf(IOException.class);
      URI badChunk =
          server(n -> "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true);
      assertThatThrownBy(() -> body(t, badChunk)).hasMessageContaining("chunk size");
    }
  }

  @Test
  void clientTurnsBadAnswersIntoFailedRequests() throws Exception {
    URI garbage = server(n -> "SMTP ready\r\n\r\n", true);
    EndpointConfig config =
        EndpointConfig.of("http://127.0.0.1:" + garbage.getPort(), "/v1/completions");
    try (OpenAiClient client = new OpenAiClient(config, s -> 0)) {
      RequestResult r = client.send(PreparedRequest.text("a", 1, 1), null);
      assertThat(r.success()).isFalse();
      assertThat(r.errorKind()).isEqualTo("connection error");
      assertThat(r.error()).contains("not an HTTP response");
    }
  }
}
