package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The plain-socket upstream client against a real loopback server that writes exact bytes: framing
 * (length, chunked, until close), keep-alive reuse, a pooled connection the server closed, aborts,
 * timeouts and malformed answers.
 */
class SocketUpstreamClientTest {

  /** What one scripted connection does after reading a request: answer on {@code out}. */
  interface Script {
    /** Returns false to close the connection. */
    boolean answer(int requestNumber, Request request, OutputStream out) throws Exception;
  }

  record Request(String head, byte[] body) {}

  private final SocketUpstreamClient client = new SocketUpstreamClient();
  private final List<AutoCloseable> closeMe = new CopyOnWriteArrayList<>();
  private final AtomicInteger accepted = new AtomicInteger();
  private final List<Request> requests = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    client.close();
    for (AutoCloseable c : closeMe) {
      c.close();
    }
  }

  private URI serve(Script script) throws IOException {
    ServerSocket server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    closeMe.add(server);
    Thread.ofVirtual()
        .start(
            () -> {
              while (!server.isClosed()) {
                try {
                  Socket s = server.accept();
                  closeMe.add(s);
                  accepted.incrementAndGet();
                  Thread.ofVirtual().start(() -> connection(s, script));
                } catch (IOException e) {
                  return;
                }
              }
            });
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1/completions");
  }

  private void connection(Socket s, Script script) {
    try (s) {
      InputStream in = new BufferedInputStream(s.getInputStream());
      for (int n = 1; ; n++) {
        Request r = readRequest(in);
        if (r == null) {
          return;
        }
        requests.add(r);
        if (!script.answer(n, r, s.getOutputStream())) {
          return;
        }
      }
    } catch (Exception e) {
      // the client went away
    }
  }

  private static Request readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int c;
    int newlines = 0;
    while ((c = in.read()) >= 0) {
      head.write(c);
      if (c == '\n') {
        if (++newlines == 2) {
          break;
        }
      } else if (c != '\r') {
        newlines = 0;
      }
    }
    if (c < 0) {
      return null;
    }
    String h = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : h.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return new Request(h, in.readNBytes(length));
  }

  private static void write(OutputStream out, String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  private static String ok(String body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length()
        + "\r\n\r\n"
        + body;
  }

  private static String text(InputStream in) throws IOException {
    return new String(in.readAllBytes(), StandardCharsets.UTF_8);
  }

  private UpstreamClient.Response post(URI uri, String body) throws IOException {
    return client.send(
        uri, body.getBytes(StandardCharsets.UTF_8), 5000, Map.of("X-Request-Id", "req-1"));
  }

  @Test
  void sendsOneWellFormedRequestAndReusesTheConnection() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, ok("{\"n\":" + n + "}"));
              return true;
            });
    for (int i = 1; i <= 3; i++) {
      try (UpstreamClient.Response r = post(uri, "{\"prompt\":\"hi\"}")) {
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.contentType()).isEqualTo("application/json");
        assertThat(text(r.body())).isEqualTo("{\"n\":" + i + "}");
      }
    }
    assertThat(accepted).hasValue(1);
    Request first = requests.get(0);
    assertThat(first.head())
        .startsWith("POST /v1/completions HTTP/1.1\r\n")
        .contains("\r\nHost: 127.0.0.1:" + uri.getPort() + "\r\n")
        .contains("\r\nContent-Type: application/json\r\n")
        .contains("\r\nContent-Length: 15\r\n")
        .contains("\r\nX-Request-Id: req-1\r\n")
        .endsWith("\r\n\r\n");
    assertThat(new String(first.body(), StandardCharsets.UTF_8)).isEqualTo("{\"prompt\":\"hi\"}");
  }

  @Test
  void aGetCarriesNoBodyAndKeepsItsQuery() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, ok("up"));
              return true;
            });
    try (UpstreamClient.Response r =
        client.send(uri.resolve("/metrics?x=1"), null, 5000, Map.of())) {
      assertThat(text(r.body())).isEqualTo("up");
    }
    assertThat(requests.get(0).head())
        .startsWith("GET /metrics?x=1 HTTP/1.1\r\n")
        .doesNotContain("Content-Length");
  }

  @Test
  void aChunkedStreamIsReadAsItArrivesAndTheConnectionIsReused() throws Exception {
    CountDownLatch firstEventRead = new CountDownLatch(1);
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
              write(out, "Transfer-Encoding: chunked\r\n\r\n");
              write(out, "d;ext=1\r\ndata: first\n\n\r\n");
              if (n == 1 && !firstEventRead.await(5, TimeUnit.SECONDS)) {
                return false; // the client did not see the first event before the rest was sent
              }
              write(out, "e\r\ndata: [DONE]\n\n\r\n0\r\nX-Trailer: t\r\n\r\n");
              return true;
            });
    try (UpstreamClient.Response r = post(uri, "{}")) {
      assertThat(r.contentType()).isEqualTo("text/event-stream");
      byte[] buf = new byte[100];
      int n = r.body().read(buf);
      assertThat(new String(buf, 0, n, StandardCharsets.UTF_8)).isEqualTo("data: first\n\n");
      firstEventRead.countDown();
      assertThat(text(r.body())).isEqualTo("data: [DONE]\n\n");
    }
    try (UpstreamClient.Response r = post(uri, "{}")) {
      assertThat(text(r.body())).isEqualTo("data: first\n\ndata: [DONE]\n\n");
    }
    assertThat(accepted).hasValue(1);
  }

  @Test
  void aPooledConnectionTheServerClosedIsReplacedWithoutAnError() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, ok("fine"));
              return false; // closes after every answer, without saying Connection: close
            });
    for (int i = 0; i < 3; i++) {
      try (UpstreamClient.Response r = post(uri, "{}")) {
        assertThat(text(r.body())).isEqualTo("fine");
      }
    }
    assertThat(requests).hasSize(3); // each request was sent once
    assertThat(accepted).hasValue(3);
  }

  @Test
  void aBodyUntilCloseIsReadToTheEndAndTheConnectionIsNotReused() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it");
              return false;
            });
    for (int i = 0; i < 2; i++) {
      try (UpstreamClient.Response r = post(uri, "{}")) {
        assertThat(text(r.body())).isEqualTo("all of it");
      }
    }
    assertThat(accepted).hasValue(2);
  }

  @Test
  void connectionCloseFromTheServerIsHonoured() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
              return true; // keeps its side open: the client must not reuse it anyway
            });
    for (int i = 0; i < 2; i++) {
      try (UpstreamClient.Response r = post(uri, "{}")) {
        assertThat(text(r.body())).isEqualTo("ok");
      }
    }
    assertThat(accepted).hasValue(2);
  }

  @Test
  void abortWakesABlockedReadButNeverTouchesAConnectionAlreadyHandedBack() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              if (requests.size() == 1) {
                write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
                Thread.sleep(Duration.ofMinutes(1)); // a stream that stalls
              }
              write(out, ok("next"));
              return true;
            });
    UpstreamClient.Response stalled = post(uri, "{}");
    stalled.body().readNBytes(5);
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    stalled.body().read(new byte[10]);
                  } catch (IOException expected) {
                    // woken by the abort
                  }
                });
    stalled.abort();
    assertThat(reader.join(Duration.ofSeconds(5))).isTrue();
    stalled.close();

    UpstreamClient.Response done = post(uri, "{}");
    assertThat(text(done.body())).isEqualTo("next");
    done.close();
    done.abort(); // late: the connection is pooled again and must stay usable
    try (UpstreamClient.Response again = post(uri, "{}")) {
      assertThat(text(again.body())).isEqualTo("next");
    }
    assertThat(accepted).hasValue(2); // the aborted one, then one reused connection
  }

  @Test
  void aSlowWorkerTimesOutOnceWithoutASecondTry() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              Thread.sleep(Duration.ofMinutes(1));
              return false;
            });
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> client.send(uri, new byte[0], 300, Map.of()))
        .isInstanceOf(SocketTimeoutException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
    assertThat(requests).hasSize(1);
  }

  @Test
  void malformedAnswersAreClearErrors() throws Exception {
    URI garbage =
        serve(
            (n, r, out) -> {
              write(out, "SSH-2.0-OpenSSH\r\n\r\n");
              return false;
            });
    assertThatThrownBy(() -> post(garbage, "{}"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not an HTTP/1.x answer");

    URI huge =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(70_000) + "\r\n\r\n");
              return false;
            });
    assertThatThrownBy(() -> post(huge, "{}")).hasMessageContaining("answer head exceeds");

    URI badChunk =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
              return false;
            });
    try (UpstreamClient.Response r = post(badChunk, "{}")) {
      assertThatThrownBy(() -> r.body().readAllBytes()).hasMessageContaining("bad chunk size");
    }

    URI shortBody =
        serve(
            (n, r, out) -> {
              write(out, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
              return false;
            });
    try (UpstreamClient.Response r = post(shortBody, "{}")) {
      assertThatThrownBy(() -> r.body().readAllBytes()).isInstanceOf(IOException.class);
    }
  }

  @Test
  void aHeaderValueWithALineBreakIsRefusedBeforeAnythingIsSent() throws Exception {
    URI uri =
        serve(
            (n, r, out) -> {
              write(out, ok("x"));
              return true;
            });
    assertThatThrownBy(
            () -> client.send(uri, new byte[0], 5000, Map.of("X-Request-Id", "a\r\nEvil: 1")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(requests).isEmpty();
  }
}
