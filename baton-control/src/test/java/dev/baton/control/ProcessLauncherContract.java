package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.control.ProcessLauncher.LaunchRequest;
import dev.baton.control.ProcessLauncher.Launched;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every process launcher must do: output to the log, alive/exit reporting, stop and kill
 * taking the whole tree down, and adopting by pid + start time only. Subclass per backend.
 */
abstract class ProcessLauncherContract {

  @TempDir Path dir;
  private final List<Launched> started = new ArrayList<>();

  abstract ProcessLauncher backend();

  @AfterEach
  void killEverything() {
    started.forEach(Launched::kill);
  }

  private Launched launch(String script) throws IOException {
    Launched p =
        backend()
            .launch(
                new LaunchRequest(
                    "t",
                    List.of("/bin/sh", "-c", script),
                    Map.of("BATON_TEST_VALUE", "42"),
                    dir.resolve("logs/t.log")));
    started.add(p);
    return p;
  }

  @Test
  void outputAndEnvironmentGoToTheLog() throws Exception {
    Launched p = launch("echo value=$BATON_TEST_VALUE; exit 7");
    await().atMost(Duration.ofSeconds(10)).until(() -> !p.isAlive());
    assertThat(p.exitCode()).isEqualTo(7);
    assertThat(Files.readString(dir.resolve("logs/t.log"))).contains("value=42");
  }

  @Test
  void stopTakesTheWholeTreeDown() throws Exception {
    Launched p = launch("sleep 60 & sleep 60 & wait");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ProcessHandle.of(p.pid()).orElseThrow().children().count() == 2);
    List<ProcessHandle> children = ProcessHandle.of(p.pid()).orElseThrow().children().toList();
    p.stop(Duration.ofSeconds(2));
    assertThat(p.isAlive()).isFalse();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> children.stream().noneMatch(ProcessHandle::isAlive));
  }

  @Test
  void killIgnoresSigterm() throws Exception {
    Launched p = launch("trap '' TERM; sleep 60 & wait; sleep 60");
    assertThat(p.isAlive()).isTrue();
    p.kill();
    assertThat(p.isAlive()).isFalse();
    Launched q = launch("trap '' TERM; while true; do sleep 1; done");
    long t0 = System.nanoTime();
    q.stop(Duration.ofMillis(300));
    assertThat(q.isAlive()).isFalse();
    assertThat((System.nanoTime() - t0) / 1e9).isLessThan(8);
  }

  @Test
  void adoptChecksTheStartTime() throws Exception {
    Launched p = launch("sleep 60");
    assertThat(backend().adopt(p.pid(), p.started())).isNotNull();
    assertThat(backend().adopt(p.pid(), p.started().minusSeconds(3600))).isNull();
    p.kill();
    assertThat(backend().adopt(p.pid(), p.started())).isNull();
  }
}
