package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.WorkerSlot.Phase;
import dev.baton.core.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatePublisherTest {

  @TempDir Path dir;

  @Test
  void publishedStateReadsBackWithEveryWorker() throws Exception {
    RunDirectory run = new RunDirectory("t", dir);
    Files.createDirectories(dir);
    Fleet fleet = new Fleet();
    ClusterSpec spec =
        SpecParser.parse("model: random:tiny\nroles:\n  decode: {replicas: 1}\n", "test");
    fleet.resetDesired(spec);
    WorkerSlot w =
        fleet.newWorker(
            spec,
            fleet.desiredWorkers(spec).getFirst(),
            s -> new WorkerPlan.Launch(java.util.List.of("x"), java.util.Map.of()));
    w.phase = Phase.READY;
    w.restarts = 2;
    StatePublisher publisher = new StatePublisher(run);
    publisher.publish(
        publisher.state(
            new StatePublisher.Header("ready", null, 7, "pool", "m.gguf", "http://g", null),
            fleet));
    ClusterState read = run.readState();
    assertThat(read.phase()).isEqualTo("ready");
    assertThat(read.controlPort()).isEqualTo(7);
    assertThat(read.workers()).hasSize(1);
    assertThat(read.workers().getFirst().role()).isEqualTo(Role.DECODE.wireName());
    assertThat(read.workers().getFirst().state()).isEqualTo("ready");
    assertThat(read.workers().getFirst().restarts()).isEqualTo(2);
    publisher.clear();
    assertThat(run.readState()).isNull();
  }

  @Test
  void privateFilesAreOwnerOnly() throws Exception {
    Path f = dir.resolve("gateway.yaml");
    Files.writeString(f, "old");
    StatePublisher.writePrivate(f, "admin_token: x");
    assertThat(Files.readString(f)).isEqualTo("admin_token: x");
    assertThat(Files.getPosixFilePermissions(f))
        .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
  }
}
