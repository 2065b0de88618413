package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway process: start, restart on the same port after it dies, clear failures. */
class GatewaySupervisorTest {

  @TempDir Path dir;

  private ClusterSpec spec(String mainClass, String... extra) {
    StringBuilder command =
        new StringBuilder(
            "[\"{java}\", \"-Xmx64m\", \"-XX:TieredStopAtLevel=1\", \"-cp\", \"{classpath}\", \"dev.baton.testkit."
                + mainClass
                + "\", \"--port\", \"{port}\"");
    for (String e : extra) {
      command.append(", \"").append(e).append('"');
    }
    command.append(']');
    return SpecParser.parse(
        "model: random:tiny\nhost: 127.0.0.1\n"
            + "gateway:\n  command: "
            + command
            + "\nsupervision: {readyTimeoutSeconds: 30, restartBackoffSeconds: 0.2}\n"
            + "roles:\n  both: {replicas: 1}\n",
        "test");
  }

  private GatewaySupervisor supervisor(ClusterSpec spec) throws Exception {
    RunDirectory run = new RunDirectory("t", dir);
    Files.createDirectories(run.logs());
    return new GatewaySupervisor(
        run, new LocalProcessLauncher(), Toolchain.current(), new Fleet(), () -> spec);
  }

  @Test
  void aGatewayThatDiesIsRestartedOnTheSamePortAndWorkersRegisterAgain() throws Exception {
    GatewaySupervisor gateway = supervisor(spec("FakeGateway"));
    try {
      gateway.start();
      int port = gateway.port();
      assertThat(Http.healthy(gateway.url() + "/health", Duration.ofSeconds(2))).isTrue();
      assertThat(gateway.superviseOnce(() -> {})).as("alive: nothing to do").isFalse();

      gateway.process().kill();
      await().atMost(Duration.ofSeconds(10)).until(() -> !gateway.alive());
      AtomicInteger reRegistered = new AtomicInteger();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> gateway.superviseOnce(reRegistered::incrementAndGet));
      assertThat(gateway.port()).isEqualTo(port);
      assertThat(gateway.restarts()).isEqualTo(1);
      assertThat(reRegistered.get()).isEqualTo(1);
      assertThat(Http.healthy(gateway.url() + "/health", Duration.ofSeconds(2))).isTrue();
    } finally {
      gateway.stop(Duration.ofSeconds(2));
    }
  }

  @Test
  void aGatewayThatCannotStartFailsWithItsLogTail() throws Exception {
    GatewaySupervisor gateway = supervisor(spec("FakeWorker", "--fail-start"));
    assertThatThrownBy(gateway::start)
        .hasMessageContaining("gateway exited with code 3")
        .hasMessageContaining("refusing to start");
  }
}
