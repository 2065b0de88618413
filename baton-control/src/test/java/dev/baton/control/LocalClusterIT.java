package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.baton.core.Role;
import dev.baton.testkit.CompletionLoad;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The supervisor with real processes: a stand-in gateway and stand-in workers (small Java HTTP
 * servers from the test classes, following the admin API and worker metrics contracts) run as child
 * processes, so up, scale, drain, restart and down are exercised for real. Every process started is
 * tracked and killed at the end, even when a test fails.
 */
class LocalClusterIT {

  private static Path home;
  private static Path model;
  private static final Set<Long> seenPids = new HashSet<>();
  private static final HttpClient CLIENT = HttpClient.newHttpClient();
  private final List<String> clusters = new ArrayList<>();

  @BeforeAll
  static void setUp() throws IOException {
    home = Files.createTempDirectory("baton-home");
    System.setProperty("baton.home", home.toString());
    System.setProperty("baton.exitWithParent", "true");
    model = home.resolve("model.gguf");
    Files.writeString(model, "not a real model: the stand-in workers do not read it");
  }

  @AfterEach
  void downEverything() throws Exception {
    for (String name : clusters) {
      RunDirectory run = RunDirectory.forName(name);
      ClusterState state = run.readState();
      if (state != null) {
        remember(state);
        Cluster.down(name);
      }
    }
  }

  @AfterAll
  static void killLeftovers() {
    for (long pid : seenPids) {
      ProcessHandle.of(pid).ifPresent(LocalProcessLauncher::killTree);
    }
    System.clearProperty("baton.home");
    System.clearProperty("baton.exitWithParent");
    deleteTree(home);
  }

  private static String command(String mainClass, String... extra) {
    StringBuilder sb =
        new StringBuilder(
            "[\"{java}\", \"-Xmx64m\", \"-XX:TieredStopAtLevel=1\", \"-cp\", \"{classpath}\", \"dev.baton.testkit."
                + mainClass
                + "\", \"--port\", \"{port}\"");
    for (String e : extra) {
      sb.append(", \"").append(e).append('"');
    }
    return sb.append(']').toString();
  }

  private static String worker(String... extra) {
    List<String> args = new ArrayList<>(List.of("--role", "{role}"));
    args.addAll(List.of(extra));
    return command("FakeWorker", args.toArray(String[]::new));
  }

  private static String spec(String mode, String roles, String extra) {
    return "model: "
        + model
        + "\nmode: "
        + mode
        + "\ngateway:\n  command: "
        + command("FakeGateway")
        + "\nsupervision: {healthIntervalSeconds: 0.3, failureThreshold: 2, restartBackoffSeconds: 0.2,"
        + " readyTimeoutSeconds: 60, drainTimeoutSeconds: 30}\n"
        + extra
        + "roles:\n"
        + roles;
  }

  private String up(String name, String spec) throws Exception {
    clusters.add(name);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Cluster.UpResult result = Cluster.up(spec, "test", name, false, new PrintStream(out, true));
    remember(RunDirectory.forName(name).readState());
    assertThat(out.toString()).contains("gateway listening at " + result.gatewayUrl());
    return result.gatewayUrl();
  }

  private static void remember(ClusterState state) {
    if (state == null) {
      return;
    }
    synchronized (seenPids) {
      seenPids.add(state.supervisorPid());
      if (state.gateway() != null) {
        seenPids.add(state.gateway().pid());
      }
      state.workers().forEach(w -> seenPids.add(w.pid()));
    }
  }

  /** Clients of completions; the tags are the pids of the fake workers that answered. */
  static CompletionLoad load(String gateway, int clients) {
    return new CompletionLoad(
        gateway,
        clients,
        (client, i) -> "{\"prompt\":\"hi\"}",
        r -> {
          String body = r.body();
          int p = body.indexOf("\"pid\":");
          return body.substring(p + 6, body.indexOf(',', p));
        });
  }

  /** The supervisor's last 40 log lines (what a failed wait on it shows). */
  private static String supervisorLogTail(String name) throws IOException {
    Path log = RunDirectory.forName(name).supervisorLog();
    if (!Files.exists(log)) {
      return "(no log at " + log + ")";
    }
    List<String> lines = Files.readAllLines(log);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  private static List<StatusView.WorkerRow> rows(String name, String role) throws IOException {
    return Cluster.status(name).workers().stream().filter(w -> w.role().equals(role)).toList();
  }

  @Test
  void poolClusterScalesOutAndInUnderLoadRestartsKilledWorkersAndStopsCleanly() throws Exception {
    String name = "pool-it";
    String gateway =
        up(
            name,
            spec(
                "pool",
                "  prefill: {replicas: 1, command: "
                    + worker()
                    + "}\n"
                    + "  decode: {replicas: 1, max: 4, command: "
                    + worker()
                    + "}\n",
                ""));
    StatusView status = Cluster.status(name);
    assertThat(status.phase()).isEqualTo("ready");
    assertThat(status.workers()).hasSize(2).allMatch(w -> w.health().equals("healthy"));
    assertThat(status.render()).contains("decode-0").contains("HEALTH").contains("KV USAGE");

    try (CompletionLoad load = load(gateway, 4)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() >= 10);
      assertThat(Cluster.scaleRole(name, Role.DECODE, 3)).contains("decode scaled to 3");
      assertThat(rows(name, "decode")).hasSize(3).allMatch(w -> w.health().equals("healthy"));
      await().atMost(Duration.ofSeconds(10)).until(() -> load.tags.size() >= 3);
      assertThat(Cluster.scaleRole(name, Role.DECODE, 1)).contains("decode scaled to 1");
      int before = load.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() >= before + 10);
      load.close();
      assertThat(load.failures).as("no request may fail while scaling").isEmpty();
    }
    assertThat(rows(name, "decode")).hasSize(1);
    remember(RunDirectory.forName(name).readState());

    // Out-of-bounds and wrong-mode scaling are refused with a clear reason.
    assertThatThrownBy(() -> Cluster.scaleRole(name, Role.DECODE, 9))
        .hasMessageContaining("outside min..max (1..4)");
    assertThatThrownBy(() -> Cluster.scaleGroups(name, 2)).hasMessageContaining("replica mode");

    // kill -9 a worker: it is restarted, re-registered, and serves again.
    StatusView.WorkerRow victim = rows(name, "decode").getFirst();
    ProcessHandle.of(victim.pid()).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              // The killed worker may have left the published state before its replacement joined.
              List<StatusView.WorkerRow> decodes = rows(name, "decode");
              if (decodes.isEmpty()) {
                return false;
              }
              StatusView.WorkerRow row = decodes.getFirst();
              return row.restarts() == 1
                  && row.health().equals("healthy")
                  && row.pid() != victim.pid();
            });
    remember(RunDirectory.forName(name).readState());
    try (CompletionLoad load = load(gateway, 2)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() >= 5);
      load.close();
      assertThat(load.failures).isEmpty();
    }

    // kill -9 the gateway: it comes back on the same port with every worker registered again.
    long gatewayPid = RunDirectory.forName(name).readState().gateway().pid();
    ProcessHandle.of(gatewayPid).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              StatusView s = Cluster.status(name);
              return s.gatewayUp() && s.gatewayRestarts() == 1;
            });
    remember(RunDirectory.forName(name).readState());
    assertThat(RunDirectory.forName(name).readState().gatewayUrl()).isEqualTo(gateway);
    try (CompletionLoad load = load(gateway, 2)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() >= 5);
      load.close();
      assertThat(load.failures).isEmpty();
    }

    // down: every process of the cluster is gone and the state is removed.
    ClusterState last = RunDirectory.forName(name).readState();
    assertThat(Cluster.down(name)).contains("stopped");
    assertThat(Cluster.livePids(last)).isEmpty();
    assertThat(RunDirectory.forName(name).hasState()).isFalse();
    assertThatThrownBy(() -> Cluster.status(name))
        .hasMessageContaining("no cluster 'pool-it' is running");
  }

  @Test
  void replicaClusterScalesWholeGroupsRollsASpecChangeAndReplacesAGroupThatLostAMember()
      throws Exception {
    String name = "replica-it";
    String roles =
        "  prefill: {replicas: 1, command: "
            + worker()
            + "}\n"
            + "  decode: {replicas: 1, command: "
            + worker()
            + "}\n";
    String gateway = up(name, spec("replica", roles, "groups: {replicas: 1, max: 3}\n"));
    assertThat(Cluster.status(name).workers())
        .extracting(StatusView.WorkerRow::id)
        .containsExactlyInAnyOrder("g0-prefill-0", "g0-decode-0");

    try (CompletionLoad load = load(gateway, 4)) {
      assertThat(Cluster.scaleGroups(name, 2)).contains("2 group(s)");
      assertThat(Cluster.status(name).workers())
          .extracting(StatusView.WorkerRow::group)
          .containsOnly("g0", "g1")
          .hasSize(4);
      assertThatThrownBy(() -> Cluster.scaleRole(name, Role.DECODE, 2))
          .hasMessageContaining("replica mode scales whole groups");
      await().atMost(Duration.ofSeconds(10)).until(() -> load.tags.size() >= 2);
      assertThat(Cluster.scaleGroups(name, 1)).contains("1 group(s)");
      assertThat(Cluster.status(name).workers())
          .extracting(StatusView.WorkerRow::group)
          .containsOnly("g0");

      // `baton up` again with a changed spec rolls each worker, with requests in flight.
      List<Long> oldPids =
          Cluster.status(name).workers().stream().map(StatusView.WorkerRow::pid).toList();
      String changed =
          "  prefill: {replicas: 1, command: "
              + worker("--tag", "{model}")
              + "}\n"
              + "  decode: {replicas: 1, command: "
              + worker("--tag", "{model}")
              + "}\n";
      // ...and a new model file: every worker must roll onto it.
      Path model2 = home.resolve("model-v2.gguf");
      Files.writeString(model2, "the next model version");
      Cluster.UpResult applied =
          Cluster.up(
              spec("replica", changed, "groups: {replicas: 1, max: 3}\n")
                  .replace("model: " + model, "model: " + model2),
              "test",
              name,
              false,
              new PrintStream(new ByteArrayOutputStream()));
      assertThat(applied.message()).contains("2 worker(s) replaced one unit at a time");
      for (StatusView.WorkerRow w : Cluster.status(name).workers()) {
        assertThat(ProcessHandle.of(w.pid()).orElseThrow().info().arguments().orElseThrow())
            .as("the rolled worker's command line")
            .contains(model2.toString());
      }
      assertThat(Cluster.status(name).workers())
          .hasSize(2)
          .allMatch(w -> !oldPids.contains(w.pid()) && w.health().equals("healthy"));
      int before = load.ok.get();
      await().atMost(Duration.ofSeconds(10)).until(() -> load.ok.get() >= before + 5);
      load.close();
      assertThat(load.failures).as("no request may fail while scaling or rolling").isEmpty();
    }
    remember(RunDirectory.forName(name).readState());

    // kill -9 the group's decode worker: the whole group is replaced (the gang rule), its
    // prefill too, and the decode's replacement counts a restart
    List<StatusView.WorkerRow> group = Cluster.status(name).workers();
    StatusView.WorkerRow decode = rows(name, "decode").getFirst();
    ProcessHandle.of(decode.pid()).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              List<StatusView.WorkerRow> now = Cluster.status(name).workers();
              assertThat(now)
                  .extracting(StatusView.WorkerRow::id)
                  .containsExactlyInAnyOrder("g0-prefill-0", "g0-decode-0");
              assertThat(now).allMatch(w -> w.health().equals("healthy"));
              assertThat(now)
                  .extracting(StatusView.WorkerRow::pid)
                  .doesNotContainAnyElementsOf(
                      group.stream().map(StatusView.WorkerRow::pid).toList());
              assertThat(rows(name, "decode").getFirst().restarts()).isEqualTo(1);
            });
    remember(RunDirectory.forName(name).readState());
    ClusterState last = RunDirectory.forName(name).readState();
    Cluster.down(name);
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  @Test
  void autoscalerScalesOutOnABurstAndBackInWhenIdle() throws Exception {
    String name = "autoscale-it";
    String gateway =
        up(
            name,
            spec(
                "pool",
                "  decode: {replicas: 1, min: 1, max: 3, autoscale: {concurrencyPerReplica: 2},"
                    + " command: "
                    + worker("--delay-ms", "400")
                    + "}\n",
                "autoscaler: {intervalSeconds: 0.5, stableWindowSeconds: 5, panicWindowSeconds: 1.5,"
                    + " scaleDownCooldownSeconds: 1}\n"));
    try (CompletionLoad load = load(gateway, 6)) {
      // 6 requests in flight need 3 workers at 2 each: the panic window scales out.
      await().atMost(Duration.ofSeconds(40)).until(() -> rows(name, "decode").size() == 3);
      await()
          .atMost(Duration.ofSeconds(40))
          .until(() -> rows(name, "decode").stream().allMatch(w -> w.health().equals("healthy")));
      load.close();
      assertThat(load.failures).isEmpty();
    }
    remember(RunDirectory.forName(name).readState());
    // Idle: after a full stable window of low load it drains back to min.
    await()
        .atMost(Duration.ofSeconds(40))
        .untilAsserted(
            () ->
                assertThat(rows(name, "decode"))
                    .as("decode workers; the supervisor's log:%n%s", supervisorLogTail(name))
                    .hasSize(1));
    ClusterState last = RunDirectory.forName(name).readState();
    Cluster.down(name);
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  @Test
  void sglangPrefillWorkersGetABootstrapPortThatTheGatewayLearns() throws Exception {
    String name = "sglang-it";
    String gateway =
        up(
            name,
            spec(
                "pool",
                "  prefill: {engine: sglang, command: "
                    + worker("--tag", "bootstrap={bootstrap_port}")
                    + "}\n"
                    + "  decode: {engine: sglang, command: "
                    + worker()
                    + "}\n",
                ""));
    HttpResponse<String> listed =
        CLIENT.send(
            HttpRequest.newBuilder(URI.create(gateway + "/admin/workers")).build(),
            HttpResponse.BodyHandlers.ofString());
    com.fasterxml.jackson.databind.JsonNode workers = dev.baton.core.Json.parse(listed.body());
    int bootstrap = -1;
    for (com.fasterxml.jackson.databind.JsonNode w : workers) {
      if (w.get("role").asText().equals("prefill")) {
        bootstrap = w.get("bootstrap_port").asInt();
      } else {
        assertThat(w.has("bootstrap_port")).isFalse();
      }
    }
    assertThat(bootstrap).isPositive();
    String log = Files.readString(RunDirectory.forName(name).logs().resolve("prefill-0.log"));
    assertThat(log).contains("listening");
    // the placeholder reached the command line of the prefill worker
    assertThat(
            ProcessHandle.of(
                    Cluster.status(name).workers().stream()
                        .filter(w -> w.role().equals("prefill"))
                        .findFirst()
                        .orElseThrow()
                        .pid())
                .orElseThrow()
                .info()
                .arguments()
                .orElseThrow())
        .contains("bootstrap=" + bootstrap);
    remember(RunDirectory.forName(name).readState());
  }

  @Test
  void downCleansUpAfterASupervisorThatWasKilled() throws Exception {
    String name = "orphan-it";
    up(name, spec("pool", "  decode: {replicas: 2, command: " + worker() + "}\n", ""));
    ClusterState state = RunDirectory.forName(name).readState();
    remember(state);
    ProcessHandle.of(state.supervisorPid()).orElseThrow().destroyForcibly();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                !ProcessHandle.of(state.supervisorPid()).map(ProcessHandle::isAlive).orElse(false));
    assertThatThrownBy(() -> Cluster.status(name)).hasMessageContaining("lost its supervisor");
    assertThat(Cluster.livePids(state)).hasSize(3); // gateway + 2 workers, orphaned
    assertThat(Cluster.down(name)).contains("killed 3 process(es)");
    assertThat(Cluster.livePids(state)).isEmpty();
    assertThat(RunDirectory.forName(name).hasState()).isFalse();
  }

  @Test
  void aWorkerThatCannotStartFailsUpWithItsLogAndLeavesNothingBehind() throws Exception {
    String name = "broken-it";
    clusters.add(name);
    String spec =
        spec("pool", "  decode: {replicas: 1, command: " + worker("--fail-start") + "}\n", "");
    assertThatThrownBy(
            () ->
                Cluster.up(spec, "test", name, false, new PrintStream(new ByteArrayOutputStream())))
        .hasMessageContaining("failed to start")
        .hasMessageContaining("decode-0")
        .hasMessageContaining("refusing to start (--fail-start)");
    assertThat(RunDirectory.forName(name).hasState()).isFalse();
    // The supervisor stopped the gateway it had started.
    List<String> log = Files.readAllLines(RunDirectory.forName(name).supervisorLog());
    assertThat(String.join("\n", log)).contains("cluster failed to start");
  }

  @Test
  void invalidSpecsAndBusyPortsAreRefusedBeforeAnythingStarts() throws Exception {
    String name = "invalid-it";
    clusters.add(name);
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    assertThatThrownBy(
            () ->
                Cluster.up(
                    "model: x\nroles: {decode: {replicas: 0}}", "bad.yaml", name, false, quiet))
        .isInstanceOf(SpecException.class);
    assertThatThrownBy(
            () -> Cluster.up("model: /no/such.gguf\nroles: {decode: {}}", "t", name, false, quiet))
        .hasMessageContaining("model: file not found: /no/such.gguf");
    try (java.net.ServerSocket busy =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      String spec =
          "model: " + model + "\ngateway: {port: " + busy.getLocalPort() + "}\nroles: {decode: {}}";
      assertThatThrownBy(() -> Cluster.up(spec, "t", name, false, quiet))
          .hasMessageContaining("ports already in use")
          .hasMessageContaining("gateway.port " + busy.getLocalPort());
    }
    assertThat(RunDirectory.forName(name).hasState()).isFalse();
    assertThat(Cluster.down(name)).contains("no cluster 'invalid-it' is running");
  }

  /** Removes the test's BATON_HOME (models, run directories, logs). */
  static void deleteTree(Path root) {
    if (root == null) {
      return;
    }
    try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      // best effort: a temp directory left behind is harmless
    }
  }
}
