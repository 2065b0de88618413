package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.baton.control.Cluster;
import dev.baton.control.ClusterState;
import dev.baton.control.CpuPinning;
import dev.baton.control.RunDirectory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code cpuPinning: true} with real processes: {@code baton up} runs a real gateway and two real
 * Baton workers (1P1D), and the kernel's view of each worker process ({@code Cpus_allowed_list} in
 * /proc/PID/status) shows disjoint core sets that together fit this process's cores, with {@code
 * --threads} on its command line equal to its core count; the gateway stays unpinned.
 */
class PinnedClusterIT {

  private static Path home;
  private static Path model;
  private static final Set<Long> seenPids = new HashSet<>();
  private final List<String> clusters = new ArrayList<>();

  @BeforeAll
  static void makeModel() throws Exception {
    home = Files.createTempDirectory("baton-pinned-it");
    System.setProperty("baton.home", home.toString());
    System.setProperty("baton.exitWithParent", "true");
    model = home.resolve("tiny.gguf");
    assertThat(Main.run("model", "random", "--preset", "tiny", "--out", model.toString())).isZero();
  }

  @AfterEach
  void down() throws Exception {
    for (String name : clusters) {
      ClusterState state = RunDirectory.forName(name).readState();
      if (state != null) {
        remember(state);
        Cluster.down(name);
      }
    }
  }

  @AfterAll
  static void killLeftovers() {
    seenPids.forEach(
        pid -> ProcessHandle.of(pid).ifPresent(ClusterIT.LocalProcessBackendAccess::kill));
    System.clearProperty("baton.home");
    System.clearProperty("baton.exitWithParent");
    ClusterIT.deleteTree(home);
  }

  private static void remember(ClusterState state) {
    seenPids.add(state.supervisorPid());
    if (state.gateway() != null) {
      seenPids.add(state.gateway().pid());
    }
    state.workers().forEach(w -> seenPids.add(w.pid()));
  }

  @Test
  void eachWorkerRunsOnItsOwnCoresWithThreadsToMatch() throws Exception {
    String name = "pinned-it";
    clusters.add(name);
    String spec =
        "model: "
            + model
            + "\ncpuPinning: true\n"
            + "supervision: {healthIntervalSeconds: 0.5, drainTimeoutSeconds: 20}\n"
            + "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1}\n";
    Cluster.UpResult up =
        Cluster.up(spec, "pinned.yaml", name, false, new PrintStream(new ByteArrayOutputStream()));
    ClusterState state = RunDirectory.forName(name).readState();
    remember(state);

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
