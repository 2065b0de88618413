package dev.baton.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.HttpTimeouts;
import io.helidon.webserver.WebServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ConnectionGuardTest {

  private WebServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.stop();
    }
  }

  private ConnectionGuard start(Duration idle) {
    return start(new HttpTimeouts(idle));
  }

  private ConnectionGuard start(HttpTimeouts timeouts) {
    Duration idle = timeouts.idle();
    ConnectionGuard guard = new ConnectionGuard(timeouts);
    server =
        WebServer.builder()
            .host("127.0.0.1")
            .port(0)
            .protocolsDiscoverServices(false)
            .addConnectionSelector(guard.selector())
            .idleConnectionTimeout(idle)
            .idleConnectionPeriod(timeouts.checkPeriod())
            .routing(
                r ->
                    r.addFilter(guard::filter)
                        .get(
                            "/slow",
                            (req, res) -> {
                              Thread.sleep(1_200); // four idle timeouts inside the handler
                              res.send("done");
                            })
                        .post("/echo", (req, res) -> res.send(req.content().as(String.class))))
            .build()
            .start();
    return guard;
  }

  @Test
  void aRequestInItsHandlerIsNeverCutAndTheConnectionIsForgottenWhenClosed() throws Exception {
    ConnectionGuard guard = start(Duration.ofMillis(300));
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 200").endsWith("done");
    }
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> guard.openConnections() == 0);
  }

  @Test
  void aConnectionStuckInItsHeadersIsClosed() throws Exception {
    start(Duration.ofMillis(300));
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              "GET /slow HTTP/1.1\r\nHost: x\r\nX-Endless: ".getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      int read;
      try {
        read = s.getInputStream().read();
      } catch (IOException reset) {
        read = -1;
      }
      assertThat(read).isEqualTo(-1);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
  }

  @Test
  void aBodyTrickledPastTheBodyTimeoutIsCutOff() throws Exception {
    // Idle timeout far away: only the body deadline (600 ms) can end this.
    start(new HttpTimeouts(Duration.ofSeconds(60), Duration.ofMillis(600)));
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(
          "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      int sent = 0;
      try {
        for (; sent < 100; sent++) {
          out.write('a');
          out.flush();
          Thread.sleep(50); // the attack's pacing: 5 s for the whole body
        }
      } catch (IOException closed) {
        // cut while trickling: what we want
      }
      int read;
      try {
        read = s.getInputStream().read();
      } catch (IOException reset) {
        read = -1;
      }
      assertThat(read).isEqualTo(-1);
      assertThat(sent).isLessThan(100);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    }
  }

  @Test
  void aBodyThatArrivesWithinTheBodyTimeoutIsServed() throws Exception {
    start(new HttpTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(5)));
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(
          "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      for (byte b : "hello".getBytes(StandardCharsets.US_ASCII)) {
        out.write(b);
        out.flush();
        Thread.sleep(100); // slow, but well within the deadline
      }
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 200").endsWith("hello");
    }
  }
}
