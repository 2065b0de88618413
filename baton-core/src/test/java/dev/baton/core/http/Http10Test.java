package dev.baton.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.HttpTimeouts;
import io.helidon.webserver.WebServer;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.0 through {@link ConnectionGuard} on a bare Helidon server, with a raw socket client: the
 * answer is HTTP/1.0, a streamed body ends at the close instead of being chunked, the connection
 * ends after one exchange, and Host may be missing. (Helidon alone answers HTTP/1.0 with 505.)
 */
class Http10Test {

  static WebServer server;

  @BeforeAll
  static void start() {
    ConnectionGuard guard = new ConnectionGuard(HttpTimeouts.DEFAULTS);
    server =
        WebServer.builder()
            .host("127.0.0.1")
            .port(0)
            .protocolsDiscoverServices(false)
            .addConnectionSelector(guard.selector())
            .routing(
                r ->
                    r.addFilter(guard::filter)
                        .get("/hello", (req, res) -> res.send("hello"))
                        .get(
                            "/peer",
                            (req, res) ->
                                res.send(
                                    req.remotePeer().host()
                                        + " "
                                        + req.headers()
                                            .first(io.helidon.http.HeaderNames.HOST)
                                            .orElse("-")))
                        .get(
                            "/stream",
                            (req, res) -> {
                              try (OutputStream out = res.outputStream()) {
                                for (int i = 0; i < 3; i++) {
                                  out.write(("part" + i + "\n").getBytes(StandardCharsets.UTF_8));
                                  out.flush();
                                }
                              }
                            })
                        .post("/echo", (req, res) -> res.send(req.content().as(String.class))))
            .build()
            .start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  static String exchange(String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000); // the answer must end with the connection, long before this
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void aPlainAnswerIsHttp10AndTheConnectionCloses() throws Exception {
    String answer = exchange("GET /hello HTTP/1.0\r\nHost: h\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").endsWith("\r\n\r\nhello");
    assertThat(answer.toLowerCase()).contains("content-length: 5").contains("connection: close");
  }

  @Test
  void aStreamedAnswerIsNotChunkedAndEndsAtTheClose() throws Exception {
    String answer = exchange("GET /stream HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").endsWith("\r\n\r\npart0\npart1\npart2\n");
    assertThat(answer.toLowerCase()).doesNotContain("transfer-encoding");
  }

  @Test
  void hostIsOptionalAndThePeerIsTheRealOne() throws Exception {
    String answer = exchange("GET /peer HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 200").endsWith("127.0.0.1 127.0.0.1:" + server.port());
  }

  @Test
  void aPostWithContentLength() throws Exception {
    String answer =
        exchange("POST /echo HTTP/1.0\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\npayload");
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").endsWith("payload");
  }

  @Test
  void keepAliveIsDeclinedAndAnUnknownRouteIs404() throws Exception {
    Duration t = Duration.ofNanos(System.nanoTime());
    String answer =
        exchange(
            "GET /nowhere HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + "GET /hello HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 404").doesNotContain("hello");
    assertThat(answer.toLowerCase()).contains("connection: close");
  }

  @Test
  void http11IsUntouched() throws Exception {
    String answer = exchange("GET /stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.1 200").contains("Transfer-Encoding: chunked");
  }
}
