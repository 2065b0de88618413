package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.baton.control.Cluster;
import dev.baton.control.ClusterState;
import dev.baton.control.CpuPinning;
import dev.baton.control.RunDirectory;
import dev.baton.control.StatusView;
import dev.baton.core.Json;
import dev.baton.testkit.CompletionLoad;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Issue 18's control-plane parts with real processes. {@code cpuPinning: true}: {@code baton up}
 * runs a real gateway and two real Baton workers (1P1D), and the kernel's view of each worker
 * process ({@code Cpus_allowed_list} in /proc/PID/status) shows disjoint core sets that together
 * fit this process's cores, with {@code --threads} on its command line equal to its core count; the
 * gateway stays unpinned. {@code autoscaler.pdRatio}: real prefill and decode workers under load
 * scale up together in the configured ratio and drain back together when idle.
 */
class PdFleetIT extends RealClusterFixture {

  @Test
  void eachWorkerRunsOnItsOwnCoresWithThreadsToMatch() throws Exception {
    String name = "pinned-it";
    String spec =
        "model: "
            + model
            + "\ncpuPinning: true\n"
            + "supervision: {healthIntervalSeconds: 0.5, drainTimeoutSeconds: 20}\n"
            + "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1}\n";
    Cluster.UpResult up = bringUp(name, spec);
    ClusterState state = RunDirectory.forName(name).readState();

    List<Integer> mine = allowed(ProcessHandle.current().pid());
    assumeTrue(mine.size() >= 2, "needs two cores");
    int each = mine.size() / 2;
    assertThat(state.workers()).hasSize(2);
    Set<Integer> taken = new HashSet<>();
    for (ClusterState.WorkerState w : state.workers()) {
      List<Integer> cores = allowed(w.pid());
      assertThat(cores).as(w.id() + " cores").hasSize(each);
      assertThat(mine).as(w.id() + " cores within ours").containsAll(cores);
      for (int c : cores) {
        assertThat(taken.add(c)).as(w.id() + " shares core " + c).isTrue();
      }
      List<String> args = commandLine(w.pid());
      assertThat(args.get(args.lastIndexOf("--threads") + 1))
          .as(w.id() + " --threads")
          .isEqualTo(Integer.toString(each));
    }
    assertThat(allowed(state.gateway().pid())).as("the gateway is not pinned").isEqualTo(mine);

    // Pinned workers still serve P/D requests.
    HttpResponse<String> reply = ClusterIT.complete(up.gatewayUrl(), "pinned hello");
    assertThat(reply.statusCode()).as(reply.body()).isEqualTo(200);
    assertThat(reply.headers().firstValue("x-baton-decode")).isPresent();
  }

  @Test
  void moreWorkersThanCoresIsRefusedBeforeAnythingStarts() {
    int cores = allowedOfThisProcess().size();
    String name = "pinned-too-many";
    clusters.add(name);
    String spec =
        "model: "
            + model
            + "\ncpuPinning: true\nroles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1, max: "
            + cores
            + "}\n";
    assertThatThrownBy(
            () ->
                Cluster.up(
                    spec,
                    "too-many.yaml",
                    name,
                    false,
                    new PrintStream(new ByteArrayOutputStream())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("can run " + (cores + 1) + " workers at once")
        .hasMessageContaining("prefill.max 1 + decode.max " + cores);
    assertThat(RunDirectory.forName(name).hasState()).isFalse();
  }

  @Test
  void underLoadDecodeScalesOutAndPrefillFollowsInRatioThenBothDrainBack() throws Exception {
    String name = "pd-ratio-it";
    String spec =
        "model: "
            + model
            + "\nengine: {args: [--threads, '1']}\n"
            + "autoscaler: {intervalSeconds: 0.5, stableWindowSeconds: 6, panicWindowSeconds: 1.5,"
            + " scaleDownCooldownSeconds: 1, pdRatio: {target: 1}}\n"
            + "supervision: {healthIntervalSeconds: 0.5, drainTimeoutSeconds: 20}\n"
            + "roles:\n  prefill: {replicas: 1, max: 2}\n"
            + "  decode: {replicas: 1, max: 2, autoscale: {concurrencyPerReplica: 1}}\n";
    Cluster.UpResult up = bringUp(name, spec);
    assertThat(counts(name)).containsExactly(1, 1);
    try (CompletionLoad load =
        new CompletionLoad(
            up.gatewayUrl(),
            4,
            (client, i) ->
                Json.write(
                    Json.object()
                        .put("prompt", "client " + client + " request " + i + " tells a story")
                        .put("max_tokens", 48)
                        .put("ignore_eos", true)),
            r -> r.headers().firstValue("x-baton-prefill").orElse(null))) {
      // Four requests in flight need 4 decode workers at 1 each (capped at 2): decode scales out,
      // and prefill, which has no targets of its own, follows at 1:1.
      // Generous: on a loaded 2-core machine a new worker JVM can take a minute to be ready.
      awaitExplained(name, 180, () -> counts(name).equals(List.of(2, 2)) && allHealthy(name));
      remember(RunDirectory.forName(name).readState());
      int before = load.ok.get();
      await().atMost(Duration.ofSeconds(120)).until(() -> load.ok.get() >= before + 4);
      load.close();
      assertThat(load.failures).as("requests failed while scaling").isEmpty();
      assertThat(load.tags).as("both prefill workers served").hasSize(2);
    }
    // Idle: decode drains back to 1 after a full stable window, and prefill goes with it.
    awaitExplained(name, 120, () -> counts(name).equals(List.of(1, 1)) && allHealthy(name));
    String log = Files.readString(RunDirectory.forName(name).supervisorLog());
    assertThat(log).contains("pdRatio 1.00 (target)").contains("prefill 1 -> 2, decode 1 -> 2");
    assertThat(log).contains("prefill 2 -> 1, decode 2 -> 1").contains("drained and stopped");
    ClusterState last = RunDirectory.forName(name).readState();
    assertThat(Cluster.down(name)).contains("stopped");
    assertThat(Cluster.livePids(last)).isEmpty();
  }

  /** Waits for {@code done}; on a time-out the failure carries the supervisor's log tail. */
  private static void awaitExplained(
      String name, int seconds, java.util.concurrent.Callable<Boolean> done) throws IOException {
    try {
      await().atMost(Duration.ofSeconds(seconds)).until(done);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      List<String> log = Files.readAllLines(RunDirectory.forName(name).supervisorLog());
      throw new AssertionError(
          "not reached within "
              + seconds
              + " s; supervisor log tail:\n"
              + String.join("\n", log.subList(Math.max(0, log.size() - 40), log.size())),
          e);
    }
  }

  /** Workers of the cluster now, prefill and decode (draining ones not counted). */
  private static List<Integer> counts(String name) throws IOException {
    List<StatusView.WorkerRow> rows = Cluster.status(name).workers();
    int prefill = 0;
    int decode = 0;
    for (StatusView.WorkerRow w : rows) {
      if (w.health().equals("draining")) {
        continue;
      }
      prefill += w.role().equals("prefill") ? 1 : 0;
      decode += w.role().equals("decode") ? 1 : 0;
    }
    return List.of(prefill, decode);
  }

  private static boolean allHealthy(String name) throws IOException {
    return Cluster.status(name).workers().stream().allMatch(w -> w.health().equals("healthy"));
  }

  private static List<Integer> allowedOfThisProcess() {
    try {
      return allowed(ProcessHandle.current().pid());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The kernel's affinity of a process. */
  private static List<Integer> allowed(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("Cpus_allowed_list:")) {
        return CpuPinning.parseList(line.substring(line.indexOf(':') + 1));
      }
    }
    throw new IllegalStateException("no Cpus_allowed_list for pid " + pid);
  }

  private static List<String> commandLine(long pid) throws IOException {
    String raw = Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.UTF_8);
    return List.of(raw.split("\0"));
  }
}
