package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.control.GatewayAdmin.WorkerInfo;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's gateway sync against a gateway process that speaks the admin API (the test kit's
 * FakeGateway: the real gateway health-checks every worker it is given, and these workers are pod
 * addresses that do not exist here).
 */
class GatewayRegistryTest {

  private Process gateway;
  private int port;
  private String url;
  private final GatewayRegistry registry = new GatewayRegistry();

  static final WorkerInfo PREFILL =
      new WorkerInfo(
          "g0-prefill-0", "http://10.0.0.1:8100", Role.PREFILL, "g0", "disaggregated", 0);
  static final WorkerInfo DECODE =
      new WorkerInfo("g0-decode-0", "http://10.0.0.2:8200", Role.DECODE, "g0", "disaggregated", 0);

  @BeforeEach
  void start() throws Exception {
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    url = "http://127.0.0.1:" + port;
    gateway = startGateway();
  }

  @AfterEach
  void stop() throws Exception {
    gateway.destroyForcibly().waitFor();
  }

  private Process startGateway() throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                "dev.baton.testkit.FakeGateway",
                "--port",
                Integer.toString(port))
            .redirectErrorStream(true)
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.contains("listening")) {
      // wait for the line that says it serves
    }
    return p;
  }

  private List<String> registered() throws Exception {
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(url + "/admin/workers")).build(),
                HttpResponse.BodyHandlers.ofString());
    List<String> urls = new ArrayList<>();
    for (JsonNode w : Json.parse(response.body())) {
      urls.add(
          w.get("url").asText() + " " + w.get("role").asText() + " " + w.path("group").asText());
    }
    return urls;
  }

  @Test
  void readyWorkersJoinAndGoneOnesLeaveWithoutARestart() throws Exception {
    registry.sync("c", url, "token", "gw-1", List.of(PREFILL, DECODE));
    assertThat(registered())
        .containsExactlyInAnyOrder(
            "http://10.0.0.1:8100 prefill g0", "http://10.0.0.2:8200 decode g0");

    registry.sync("c", url, "token", "gw-1", List.of(PREFILL));
    assertThat(registered()).containsExactly("http://10.0.0.1:8100 prefill g0");

    registry.remove("c", url, "token", PREFILL);
    assertThat(registered()).isEmpty();
  }

  @Test
  void aNewGatewayPodGetsEveryReadyWorkerAgain() throws Exception {
    registry.sync("c", url, "token", "gw-1", List.of(PREFILL, DECODE));
    gateway.destroyForcibly().waitFor();
    gateway = startGateway(); // the restarted gateway knows no workers
    assertThat(registered()).isEmpty();

    registry.sync("c", url, "token", "gw-2", List.of(PREFILL, DECODE));
    assertThat(registered()).hasSize(2);
  }

  @Test
  void anUnreachableGatewayIsRetriedOnTheNextSync() throws Exception {
    gateway.destroyForcibly().waitFor();
    registry.sync("c", url, "token", "gw-1", List.of(DECODE)); // logs, does not throw
    gateway = startGateway();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              registry.sync("c", url, "token", "gw-1", List.of(DECODE));
              assertThat(registered()).containsExactly("http://10.0.0.2:8200 decode g0");
            });
  }
}
