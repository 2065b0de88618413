package dev.baton.core.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.helidon.webserver.WebServer;
import java.io.IOException;
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
    ConnectionGuard guard = new ConnectionGuard(new dev.baton.core.HttpTimeouts(idle));
    server =
        WebServer.builder()
            .host("127.0.0.1")
            .port(0)
            .protocolsDiscoverServices(false)
            .addConnectionSelector(guard.selector())
            .idleConnectionTimeout(idle)
            .idleConnectionPeriod(new dev.baton.core.HttpTimeouts(idle).checkPeriod())
            .routing(
                r ->
                    r.addFilter(guard::filter)
                        .get(
                            "/slow",
                            (req, res) -> {
                              Thread.sleep(1_200); // four idle timeouts inside the handler
                              res.send("done");
                            }))
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
}
