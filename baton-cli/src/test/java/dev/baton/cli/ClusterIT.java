package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.control.Cluster;
import dev.baton.control.ClusterState;
import dev.baton.control.RunDirectory;
import dev.baton.control.StatusView;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.testkit.CompletionLoad;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The control plane with the real thing: {@code baton up} runs a real gateway and real Baton
 * workers (P/D with KV transfer) on a tiny random model; requests flow through the gateway while
 * the cluster scales out and in, a worker is killed with SIGKILL and replaced, and {@code baton
 * down} leaves no process behind.
 */
class ClusterIT extends RealClusterFixture {

  private static final HttpClient CLIENT = HttpClient.newHttpClient();

  private String up(String name, String spec) throws Exception {
    return bringUp(name, spec).gatewayUrl();
  }

  private static String spec(String mode, String extra, String roles) {
    return "model: "
        + model
        + "\nmode: "
        + mode
        + "\nengine: {args: [--threads, '1']}\n"
        + "supervision: {healthIntervalSeconds: 0.5, failureThreshold: 2, restartBackoffSeconds: 0.5,"
        + " drainTimeoutSeconds: 30}\n"
        + extra
        + "roles:\n"
        + roles;
  }

  /** A greedy completion through the gateway; returns the response or throws. */
  static String body(String prompt) {
    return Json.write(
        Json.object()
            .put("prompt", prompt)
            .put("max_tokens", 4)
            .put("temperature", 0)
            .put("ignore_eos", true));
  }

  static HttpResponse<String> complete(String gateway, String prompt) throws Exception {
    String body = body(prompt);
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create(gateway + "/v1/completions"))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Two clients of completions; the tags are the decode workers that answered. */
  static CompletionLoad load(String gateway) {
    return new CompletionLoad(
        gateway,
        2,
        (client, i) -> body("client " + client + " request " + i + " says hello"),
        r -> r.headers().firstValue("x-baton-decode").orElse(null));
  }

  private static List<StatusView.WorkerRow> workers(String name, String role) throws Exception {
    return Cluster.status(name).workers().stream().filter(w -> w.role().equals(role)).toList();
  }

  @Test
  void poolClusterServesScalesUnderLoadReplacesAKilledWorkerAndStopsCleanly() throws Exception {
    String name = "pool";
    String gateway =
        up(name, spec("pool", "", "  prefill: {replicas: 1}\n  decode: {replicas: 1, max: 2}\n"));
    HttpResponse<String> first = complete(gateway, "The quick brown fox jumps over the lazy dog");
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    assertThat(first.headers().firstValue("x-baton-prefill")).isPresent();
    assertThat(Json.parse(first.body()).at("/usage/completion_tokens").asInt()).isEqualTo(4);

    try (CompletionLoad load = load(gateway)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.ok.get() >= 3);
      assertThat(Cluster.scaleRole(name, Role.DECODE, 2)).contains("decode scaled to 2");
      await().atMost(Duration.ofSeconds(30)).until(() -> load.tags.size() >= 2);
      assertThat(Cluster.scaleRole(name, Role.DECODE, 1)).contains("decode scaled to 1");
      int before = load.ok.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> load.ok.get() >= before + 3);
      load.close();
      assertThat(load.failures).as("requests failed while scaling").isEmpty();
    }
    remember(RunDirectory.forName(name).readState());

    StatusView.WorkerRow victim = workers(name, "decode").getFirst();
    ProcessHandle.of(victim.pid()).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              // Between the killed worker leaving the fleet and its replacement joining, the
              // published state may list no decode worker for a moment.
              List<StatusView.WorkerRow> decodes = workers(name, "decode");
              if (decodes.isEmpty()) {
                return false;
              }
              StatusView.WorkerRow row = decodes.getFirst();
              return row.restarts() >= 1
                  && row.health().equals("healthy")
                  && row.pid() != victim.pid();
            });
    remember(RunDirectory.forName(name).readState());
    HttpResponse<String> after = complete(gateway, "The quick brown fox jumps over the lazy dog");
    assertThat(after.statusCode()).as(after.body()).isEqualTo(200);
    assertThat(Json.parse(after.body()).at("/choices/0/text").asText())
        .as("greedy output is the same after the restart")
        .isEqualTo(Json.parse(first.body()).at("/choices/0/text").asText());

    ClusterState last = RunDirectory.forName(name).readState();
    assertThat(Cluster.down(name)).contains("stopped");
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  @Test
  void replicaClusterScalesWholeGroupsUnderLoad() throws Exception {
    String name = "replica";
    String gateway =
        up(
            name,
            spec(
                "replica",
                "groups: {replicas: 1, max: 2}\n",
                "  prefill: {replicas: 1}\n  decode: {replicas: 1}\n"));
    try (CompletionLoad load = load(gateway)) {
      await().atMost(Duration.ofSeconds(30)).until(() -> load.ok.get() >= 3);
      assertThat(Cluster.scaleGroups(name, 2)).contains("2 group(s)");
      assertThat(Cluster.status(name).workers()).hasSize(4);
      await().atMost(Duration.ofSeconds(30)).until(() -> load.tags.size() >= 2);
      assertThat(Cluster.scaleGroups(name, 1)).contains("1 group(s)");
      int before = load.ok.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> load.ok.get() >= before + 3);
      load.close();
      assertThat(load.failures).as("requests failed while scaling groups").isEmpty();
    }
    assertThat(Cluster.status(name).workers())
        .extracting(StatusView.WorkerRow::group)
        .containsOnly("g0");
    ClusterState last = RunDirectory.forName(name).readState();
    Cluster.down(name);
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  @Test
  void withKvEventsOnTheGatewayFollowsEveryWorkersCache() throws Exception {
    String name = "events";
    String gateway =
        up(
            name,
            spec("pool", "", "  both: {replicas: 2}\n")
                .replace(
                    "engine: {args: [--threads, '1']}",
                    "engine: {args: [--threads, '1']," + " kvEvents: true}"));
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> r =
          complete(gateway, "request " + i + " of a cluster with KV events on");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    // No kv_events in any gateway config: the gateway learned each worker's endpoints itself.
    try {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                List<JsonNode> workers = adminWorkers(gateway, name);
                long following = 0;
                long stored = 0;
                for (JsonNode w : workers) {
                  JsonNode ev = w.path("kv_events");
                  following += ev.path("endpoint").asText("").startsWith("tcp://") ? 1 : 0;
                  following += ev.path("replay_endpoint").asText("").startsWith("tcp://") ? 1 : 0;
                  stored += ev.path("stored").asLong();
                }
                return workers.size() == 2 && following == 4 && stored > 0;
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError("gateway workers: " + adminWorkers(gateway, name), e);
    }
    ClusterState last = RunDirectory.forName(name).readState();
    assertThat(Cluster.down(name)).contains("stopped");
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  /** Every worker of every pool in the gateway's {@code GET /admin/workers}. */
  static List<JsonNode> adminWorkers(String gateway, String cluster) throws Exception {
    RunDirectory run = RunDirectory.forName(cluster);
    HttpResponse<String> r =
        CLIENT.send(
            HttpRequest.newBuilder(URI.create(gateway + "/admin/workers"))
                .header("Authorization", "Bearer " + run.secret(run.tokenFile()))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<JsonNode> all = new java.util.ArrayList<>();
    for (JsonNode pool : Json.parse(r.body()).path("pools")) {
      pool.path("workers").forEach(all::add);
    }
    return all;
  }
}
