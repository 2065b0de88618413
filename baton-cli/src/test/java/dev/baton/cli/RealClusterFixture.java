package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.Cluster;
import dev.baton.control.ClusterState;
import dev.baton.control.RunDirectory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * What the ITs that run {@code baton up} with real workers share: a private BATON_HOME with a tiny
 * random model, every cluster a test started brought down after it, and every process it saw killed
 * at the end even when a test failed half-way.
 */
abstract class RealClusterFixture {

  static Path home;
  static Path model;
  private static final Set<Long> seenPids = new HashSet<>();
  final List<String> clusters = new ArrayList<>();

  @BeforeAll
  static void makeModel() throws Exception {
    home = Files.createTempDirectory("baton-cluster-it");
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
        pid ->
            ProcessHandle.of(pid)
                .ifPresent(
                    h -> {
                      h.descendants().forEach(ProcessHandle::destroyForcibly);
                      h.destroyForcibly();
                    }));
    seenPids.clear();
    System.clearProperty("baton.home");
    System.clearProperty("baton.exitWithParent");
    deleteTree(home);
  }

  static void remember(ClusterState state) {
    if (state == null) {
      return;
    }
    seenPids.add(state.supervisorPid());
    if (state.gateway() != null) {
      seenPids.add(state.gateway().pid());
    }
    state.workers().forEach(w -> seenPids.add(w.pid()));
  }

  /** {@code baton up} of {@code spec} as cluster {@code name}, remembered for clean-up. */
  Cluster.UpResult bringUp(String name, String spec) throws Exception {
    clusters.add(name);
    Cluster.UpResult result =
        Cluster.up(spec, name + ".yaml", name, false, new PrintStream(new ByteArrayOutputStream()));
    remember(RunDirectory.forName(name).readState());
    return result;
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
