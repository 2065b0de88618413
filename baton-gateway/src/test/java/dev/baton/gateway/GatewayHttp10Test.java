package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.VllmStandIn;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: the gateway answers HTTP/1.0 (as vLLM's uvicorn does) through a raw socket: HTTP/1.0
 * status line, a streamed body unchunked and ended by the close, one exchange per connection, Host
 * optional. Before, Helidon 4 answered HTTP/1.0 with 505. The translation keeps the real peer
 * address, so an HTTP/1.0 request from another host cannot use the loopback-only admin API.
 */
class GatewayHttp10Test {

  static VllmStandIn worker;
  static Gateway gateway;

  @BeforeAll
  static void start() throws Exception {
    worker = new VllmStandIn(VllmStandIn.Kind.BOTH, "m");
    // Every interface, no admin token: the admin API serves loopback callers only.
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    """
                    host: 0.0.0.0
                    health: {interval_ms: 60000}
                    pools:
                      - {name: p, workers: [{url: "%s"}]}
                    """
                        .formatted(worker.url())),
                null,
                null)
            .start(0);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                Http.get("http://127.0.0.1:" + gateway.port() + "/v1/models")
                    .body()
                    .contains("\"m\""));
  }

  @AfterAll
  static void stop() {
    gateway.close();
    worker.close();
  }

  static String exchange(InetAddress to, String request) throws Exception {
    try (Socket s = new Socket(to, gateway.port())) {
      s.setSoTimeout(10_000); // far below the 60 s idle timeout: only the server's close ends it
      s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static String exchange(String request) throws Exception {
    return exchange(InetAddress.getLoopbackAddress(), request);
  }

  static String completion(boolean stream) {
    String body = "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":3,\"stream\":" + stream + "}";
    return "POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length()
        + "\r\n\r\n"
        + body;
  }

  static String head(String answer) {
    return answer.substring(0, answer.indexOf("\r\n\r\n")).toLowerCase();
  }

  @Test
  void aCompletionWithoutHostIsAnsweredInHttp10() throws Exception {
    String answer = exchange(completion(false));
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n").contains("\"choices\"");
    assertThat(head(answer))
        .contains("content-length: ")
        .contains("connection: close")
        .doesNotContain("transfer-encoding");
  }

  @Test
  void aStreamedCompletionIsUnchunkedAndEndsWithTheConnection() throws Exception {
    String answer = exchange(completion(true));
    assertThat(answer).startsWith("HTTP/1.0 200 OK\r\n");
    assertThat(head(answer)).doesNotContain("transfer-encoding").doesNotContain("content-length");
    String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
    assertThat(body).startsWith("data: {").endsWith("data: [DONE]\n\n");
  }

  @Test
  void anUnknownRouteIsA404AndKeepAliveIsDeclined() throws Exception {
    String answer =
        exchange(
            "GET /nowhere HTTP/1.0\r\nHost: g\r\nConnection: keep-alive\r\n\r\n"
                + "GET /v1/models HTTP/1.0\r\n\r\n");
    assertThat(answer).startsWith("HTTP/1.0 404 ").contains("not_found_error");
    assertThat(answer).doesNotContain("\"m\""); // the pipelined second request is not answered
    assertThat(head(answer)).contains("connection: close").doesNotContain("keep-alive");
  }

  @Test
  void theAdminApiStillSeesTheRealPeer() throws Exception {
    assertThat(exchange("GET /admin/workers HTTP/1.0\r\n\r\n")).startsWith("HTTP/1.0 200 OK\r\n");
    InetAddress external = externalAddress();
    Assumptions.assumeTrue(external != null, "no non-loopback IPv4 address on this machine");
    try (Socket probe = new Socket(external, gateway.port())) {
      // The gateway must see this connection as coming from a non-loopback address.
      assertThat(
              ((InetSocketAddress) probe.getLocalSocketAddress()).getAddress().isLoopbackAddress())
          .isFalse();
    }
    assertThat(exchange(external, "GET /admin/workers HTTP/1.0\r\n\r\n"))
        .startsWith("HTTP/1.0 403 ")
        .contains("loopback-only");
  }

  private static InetAddress externalAddress() throws Exception {
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!nic.isUp() || nic.isLoopback()) {
        continue;
      }
      for (InetAddress a : Collections.list(nic.getInetAddresses())) {
        if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
          return a;
        }
      }
    }
    return null;
  }
}
