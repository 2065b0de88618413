package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.VllmStandIn;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 12, the gateway's HTTP connections: silent and trickling connections are closed after
 * {@code idle_timeout_ms}, {@code Connection: close} is honoured, and a Helidon server closing idle
 * keep-alive connections (as workers and gateways now do) costs the gateway's pooled upstream
 * connections neither errors nor retries.
 */
class GatewayConnectionsTest {

  static final long IDLE_MS = 400;
  private final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closeMe.reversed()) {
      c.close();
    }
  }

  private Gateway gateway(String yaml) {
    Gateway g = new Gateway(GatewayConfig.parseYaml(yaml), null, null).start(0);
    closeMe.add(g);
    return g;
  }

  private Gateway gatewayInFrontOf(String workerUrl, long idleMs, String upstreamClient) {
    return gateway(
        """
        idle_timeout_ms: %d
        upstream_client: %s
        health: {interval_ms: 60000}
        pools:
          - {name: p, workers: [{url: "%s"}]}
        """
            .formatted(idleMs, upstreamClient, workerUrl));
  }

  private static String url(Gateway g) {
    return "http://127.0.0.1:" + g.port();
  }

  @Test
  void silentTricklingAndSlowHeaderConnectionsAreClosedAndConnectionCloseIsHonoured()
      throws Exception {
    VllmStandIn worker = new VllmStandIn(VllmStandIn.Kind.BOTH, "m");
    closeMe.add(worker);
    Gateway g = gatewayInFrontOf(worker.url(), IDLE_MS, "helidon");
    // Closed connections are expected events: nothing at INFO or above may be logged for them.
    List<java.util.logging.LogRecord> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Handler capture = captureInfoAndAbove(logged);
    java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
    root.addHandler(capture);
    try (Socket silent = new Socket("127.0.0.1", g.port());
        Socket trickling = new Socket("127.0.0.1", g.port());
        Socket slowHeaders = new Socket("127.0.0.1", g.port())) {
      silent.setSoTimeout(10_000);
      trickling.setSoTimeout(10_000);
      slowHeaders.setSoTimeout(10_000);
      trickling.getOutputStream().write("GET /hea".getBytes(StandardCharsets.US_ASCII));
      // A complete request line, then headers that never end: cut like an idle connection.
      slowHeaders
          .getOutputStream()
          .write(
              "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: a"
                  .getBytes(StandardCharsets.US_ASCII));
      await()
          .atMost(Duration.ofSeconds(8))
          .until(
              () ->
                  closedByServer(silent)
                      && closedByServer(trickling)
                      && closedByServer(slowHeaders));
    } finally {
      root.removeHandler(capture);
    }
    assertThat(logged).extracting(java.util.logging.LogRecord::getMessage).isEmpty();
    Gateway patient = gatewayInFrontOf(worker.url(), 60_000, "helidon");
    try (Socket s = new Socket("127.0.0.1", patient.port())) {
      s.setSoTimeout(5_000); // far below the 60 s idle timeout: only Connection: close ends it
      s.getOutputStream()
          .write(
              "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 200");
    }
  }

  @Test
  void aBodyTrickledPastBodyTimeoutMsIsCutOffQuietly() throws Exception {
    VllmStandIn worker = new VllmStandIn(VllmStandIn.Kind.BOTH, "m");
    closeMe.add(worker);
    // Idle timeout far away: only the body deadline (600 ms) can end this.
    Gateway g =
        gateway(
            """
            body_timeout_ms: 600
            health: {interval_ms: 60000}
            pools:
              - {name: p, workers: [{url: "%s"}]}
            """
                .formatted(worker.url()));
    String body = "{\"model\":\"m\",\"prompt\":\"abcdefghijklmnopqrstuvwxyz\",\"max_tokens\":2}";
    List<java.util.logging.LogRecord> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Handler capture = captureInfoAndAbove(logged);
    java.util.logging.Logger.getLogger("").addHandler(capture);
    try (Socket s = new Socket("127.0.0.1", g.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream()
          .write(
              ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + "Content-Length: "
                      + body.length()
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      long start = System.nanoTime();
      int sent = 0;
      try {
        for (; sent < body.length(); sent++) {
          s.getOutputStream().write(body.charAt(sent));
          s.getOutputStream().flush();
          Thread.sleep(100); // the attack's pacing: about 6 s for the whole body
        }
      } catch (java.io.IOException cut) {
        // the gateway closed the connection while we were still trickling: what we want
      }
      await().atMost(Duration.ofSeconds(8)).until(() -> closedByServer(s));
      assertThat(sent).isLessThan(body.length());
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    } finally {
      java.util.logging.Logger.getLogger("").removeHandler(capture);
    }
    assertThat(logged).extracting(java.util.logging.LogRecord::getMessage).isEmpty();
    assertThat(worker.plainRequests.get()).isZero(); // nothing half-read went upstream
  }

  private static java.util.logging.Handler captureInfoAndAbove(
      List<java.util.logging.LogRecord> into) {
    return new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord r) {
        if (r.getLevel().intValue() >= java.util.logging.Level.INFO.intValue()) {
          into.add(r);
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"socket", "helidon", "jdk"})
  void pooledUpstreamConnectionsSurviveTheUpstreamClosingThemWhenIdle(String client)
      throws Exception {
    VllmStandIn worker = new VllmStandIn(VllmStandIn.Kind.BOTH, "m");
    closeMe.add(worker);
    // The upstream is itself a gateway: a Helidon server that closes idle connections after
    // IDLE_MS, exactly as a worker does. The front gateway pools its connections to it; the front
    // keeps the default timeout so only the pooled upstream connections are closed under it.
    Gateway upstream = gatewayInFrontOf(worker.url(), IDLE_MS, "helidon");
    Gateway front = gatewayInFrontOf(url(upstream), 60_000, client);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Http.get(url(front) + "/v1/models").body().contains("\"m\""));
    String body = "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":2}";
    for (int round = 0; round < 6; round++) {
      assertThat(Http.post(url(front) + "/v1/completions", body).statusCode()).isEqualTo(200);
      // Wait out the upstream's idle timeout so it closes the pooled connection before the next
      // request picks it up; the wait is the condition under test, not a guess at timing.
      await()
          .pollDelay(Duration.ofMillis(IDLE_MS * 2))
          .atMost(Duration.ofSeconds(5))
          .until(() -> true);
    }
    String metrics = Http.get(url(front) + "/metrics").body();
    assertThat(metrics).doesNotContain("baton_gateway_retries_total{");
    assertThat(metrics).doesNotContain("baton_gateway_ejections_total{");
  }

  private static boolean closedByServer(Socket s) {
    try {
      return s.getInputStream().read() == -1;
    } catch (java.io.IOException reset) {
      return true;
    }
  }
}
