package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.core.HttpTimeouts;
import dev.baton.engine.sched.Engine;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12, the worker's HTTP connections: silent and trickling (slowloris) connections are closed
 * after the idle timeout, a body trickled past the body timeout is cut, and a client's {@code
 * Connection: close} closes the connection after the answer.
 */
class ConnectionTimeoutsTest {

  static final Duration IDLE = Duration.ofMillis(400);
  static final Duration BODY = Duration.ofMillis(600);
  static WorkerServerTest.SlowRunner runner;
  static Engine engine;
  static WorkerServer server;

  /** Default timeout (60 s): a close seen within seconds can only come from Connection: close. */
  static WorkerServer patient;

  @BeforeAll
  static void start() {
    runner = new WorkerServerTest.SlowRunner();
    EngineMetrics metrics = new EngineMetrics("letters");
    engine = WorkerServerTest.startEngine(runner, metrics);
    server = startServer(engine, new HttpTimeouts(IDLE, BODY), metrics);
    patient = startServer(engine, HttpTimeouts.DEFAULTS, metrics);
  }

  static WorkerServer startServer(Engine engine, HttpTimeouts timeouts, EngineMetrics metrics) {
    return new WorkerServer(
            new ServerConfig("127.0.0.1", 0, "letters", null, 64 * 1024, "both", timeouts),
            engine,
            new WorkerServerTest.LetterText(),
            WorkerServerTest.SAMPLERS,
            metrics)
        .start();
  }

  @AfterAll
  static void stop() {
    server.close();
    patient.close();
    engine.close();
    runner.close();
  }

  @Test
  void aSilentConnectionIsClosedAfterTheIdleTimeout() throws Exception {
    try (Socket s = connect()) {
      assertClosedByServer(s);
    }
  }

  @Test
  void aRequestLineTrickledByteByByteIsCutOff() throws Exception {
    // Each write is well inside any per-read timeout, which is what a slowloris client relies on;
    // only a deadline on the whole request line stops it.
    assertCutOffWhileTrickling("", "GET /health HTTP/1.1\r\n", Duration.ofSeconds(10));
  }

  @Test
  void headersTrickledAfterACompleteRequestLineAreCutOff() throws Exception {
    // The request line is complete, so only a deadline that still runs while the headers arrive
    // ends it (before ConnectionGuard, nothing did).
    assertCutOffWhileTrickling(
        "GET /health HTTP/1.1\r\n",
        "Host: x\r\nX-Trickle: abcdefghijklmnopqrstuvwxyz0123456789\r\n\r\n",
        Duration.ofSeconds(5));
  }

  /**
   * Sends {@code atOnce}, then {@code trickled} one byte every 100 ms; the server must close the
   * connection before the last byte, within {@code within}.
   */
  private static void assertCutOffWhileTrickling(String atOnce, String trickled, Duration within)
      throws Exception {
    try (Socket s = connect()) {
      s.getOutputStream().write(atOnce.getBytes(StandardCharsets.US_ASCII));
      byte[] bytes = trickled.getBytes(StandardCharsets.US_ASCII);
      long start = System.nanoTime();
      int sent = 0;
      try {
        for (; sent < bytes.length; sent++) {
          s.getOutputStream().write(bytes[sent]);
          s.getOutputStream().flush();
          Thread.sleep(100); // the attack's own pacing, not a wait for the server
        }
      } catch (java.io.IOException closed) {
        // the server closed the connection while we were still trickling: what we want
      }
      assertClosedByServer(s);
      assertThat(sent).isLessThan(bytes.length);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(within);
    }
  }

  @Test
  void aBodyTrickledPastTheBodyTimeoutIsCutOffQuietly() throws Exception {
    // Complete headers, then the body one byte per 100 ms: each byte is well inside any per-read
    // timeout; only a deadline on the whole body (600 ms here) ends it. Before, nothing did.
    String body = "{\"prompt\":\"abcdefghijklmnopqrstuvwxyz\",\"max_tokens\":2,\"stream\":false}";
    List<LogRecord> logged = new CopyOnWriteArrayList<>();
    Handler capture = captureInfoAndAbove(logged);
    Logger.getLogger("").addHandler(capture);
    try {
      assertCutOffWhileTrickling(
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + "Content-Length: "
              + body.length()
              + "\r\n\r\n",
          body,
          Duration.ofSeconds(4));
    } finally {
      Logger.getLogger("").removeHandler(capture);
    }
    // A cut connection is an expected event: nothing at INFO or above.
    assertThat(logged).extracting(LogRecord::getMessage).isEmpty();
  }

  static Handler captureInfoAndAbove(List<LogRecord> into) {
    return new Handler() {
      @Override
      public void publish(LogRecord r) {
        if (r.getLevel().intValue() >= Level.INFO.intValue()) {
          into.add(r);
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
  }

  @Test
  void anAnswerStreamedForLongerThanTheIdleTimeoutIsNotCut() throws Exception {
    // Also longer than the body timeout (600 ms): a handler that has its body is never cut.
    runner.stepNanos = 60_000_000; // 24 tokens x 60 ms: over three idle timeouts of 400 ms
    try (Socket s = connect()) {
      String body = "{\"prompt\":\"ab\",\"max_tokens\":24,\"ignore_eos\":true,\"stream\":true}";
      s.getOutputStream()
          .write(
              ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + "Connection: close\r\nContent-Length: "
                      + body.length()
                      + "\r\n\r\n"
                      + body)
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 200").contains("data: [DONE]");
    } finally {
      runner.stepNanos = 0;
    }
  }

  @Test
  void connectionCloseFromTheClientClosesTheConnectionAfterTheAnswer() throws Exception {
    try (Socket s = new Socket("127.0.0.1", patient.port())) {
      s.setSoTimeout(5_000); // far below the 60 s idle timeout
      s.getOutputStream()
          .write(
              "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 200");
    }
  }

  @Test
  void aKeptAliveConnectionServesSeveralRequestsWithinTheTimeout() throws Exception {
    try (Socket s = connect()) {
      for (int i = 0; i < 3; i++) {
        s.getOutputStream()
            .write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(readHead(s.getInputStream())).startsWith("HTTP/1.1 200");
      }
    }
  }

  static Socket connect() throws Exception {
    Socket s = new Socket("127.0.0.1", server.port());
    s.setSoTimeout(10_000);
    return s;
  }

  /** Reads a bodiless answer's status line and headers. */
  static String readHead(InputStream in) throws Exception {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      assertThat(b).as("answer cut short: " + head).isNotNegative();
      head.append((char) b);
    }
    return head.toString();
  }

  static void assertClosedByServer(Socket s) {
    await()
        .atMost(Duration.ofSeconds(8))
        .until(
            () -> {
              try {
                return s.getInputStream().read() == -1;
              } catch (java.net.SocketException reset) {
                return true;
              }
            });
  }
}
