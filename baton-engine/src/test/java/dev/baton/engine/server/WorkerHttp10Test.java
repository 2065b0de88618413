package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.HttpTimeouts;
import dev.baton.engine.sched.Engine;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: the worker answers HTTP/1.0 as vLLM (uvicorn) does, through a raw socket: an HTTP/1.0
 * status line, a streamed body that ends with the connection instead of being chunked, the
 * connection closed after the answer (keep-alive declined), Host optional. Before, Helidon 4
 * answered every HTTP/1.0 request with 505.
 */
class WorkerHttp10Test {

  static WorkerServerTest.SlowRunner runner;
  static Engine engine;
  static WorkerServer server;

  @BeforeAll
  static void start() {
    runner = new WorkerServerTest.SlowRunner();
    EngineMetrics metrics = new EngineMetrics("letters");
    engine = WorkerServerTest.startEngine(runner, metrics);
    // The default 60 s timeouts: every close seen here comes from the HTTP/1.0 handling.
    server = ConnectionTimeoutsTest.startServer(engine, HttpTimeouts.DEFAULTS, metrics);
  }

  @AfterAll
  static void stop() {
    server.close();
    engine.close();
    runner.close();
  }

  /** Sends {@code request} and reads the answer to the end of the connection. */
  static String exchange(String request) throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000); // far below the idle timeout: only the server's close ends the read
      s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static String post(String path, String body, String extraHeaders) {
    return "POST "
        + path
        + " HTTP/1.0\r\nContent-Type: application/json\r\n"
        + extraHeaders
        + "Content-Length: "
        + body.getBytes(StandardCharsets.UTF_8).length
        + "\r\n\r\n"
        + body;
  }

  @Test
  void aCompletionWithoutHostIsAnsweredInHttp10WithItsLength() throws Exception {
    String answer = exchange(post("/v1/completions", "{\"prompt\":\"ab\",\"max_tokens\":3}", ""));
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").contains("\"text_completion\"");
    String head = answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase();
    String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
    assertThat(head)
        .contains("content-length: " + body.getBytes(StandardCharsets.UTF_8).length)
        .contains("connection: close")
        .doesNotContain("transfer-encoding");
  }

  @Test
  void aStreamedCompletionIsNotChunkedAndEndsWithTheConnection() throws Exception {
    String answer =
        exchange(
            post(
                "/v1/completions",
                "{\"prompt\":\"ab\",\"max_tokens\":4,\"ignore_eos\":true,\"stream\":true}",
                "Host: worker\r\n"));
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").contains("text/event-stream");
    String head = answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase();
    String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
    assertThat(head).doesNotContain("transfer-encoding").doesNotContain("content-length");
    // Unchunked: the body is the bare event stream, from the first event to the last.
    assertThat(body).startsWith("data: {").endsWith("data: [DONE]\n\n");
    assertThat(body.split("data: \\{", -1)).hasSize(1 + 4); // one event per token
  }

  @Test
  void anUnknownRouteIsAJson404() throws Exception {
    String answer = exchange("GET /nowhere HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 404 ").contains("\"error\"");
  }

  @Test
  void keepAliveIsDeclinedOneExchangePerConnection() throws Exception {
    // An HTTP/1.0 client may ask for keep-alive; the worker answers and closes (as uvicorn may),
    // so the second, pipelined request is never answered and the read ends at the close.
    String answer =
        exchange(
            "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + "GET /v1/models HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").doesNotContain("letters");
    assertThat(answer.toLowerCase()).contains("connection: close").doesNotContain("keep-alive");
  }

  @Test
  void http11OnTheSameServerIsUnchanged() throws Exception {
    String answer =
        exchange(
            "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nContent-Length: 62\r\n\r\n"
                + "{\"prompt\":\"ab\",\"max_tokens\":2,\"ignore_eos\":true,\"stream\":true}");
    assertThat(answer).startsWith("HTTP/1.1 200 OK\r\n").contains("Transfer-Encoding: chunked");
  }
}
