package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.core.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class SpecParserTest {

  private static final String SMALLEST =
      """
      model: models/tiny.gguf      # or random:tiny
      mode: pool                   # or replica
      gateway:
        port: 8000
      roles:
        prefill: {replicas: 1}
        decode: {replicas: 1}
      """;

  @Test
  void smallestSpecFromTheIssueIsAcceptedAsIs() {
    ClusterSpec spec = SpecParser.parse(SMALLEST, "test");
    assertThat(spec.model()).isEqualTo("models/tiny.gguf");
    assertThat(spec.mode()).isEqualTo(Mode.POOL);
    assertThat(spec.gateway().port()).isEqualTo(8000);
    assertThat(spec.host()).isEqualTo("127.0.0.1");
    assertThat(spec.roles()).containsOnlyKeys(Role.PREFILL, Role.DECODE);
    assertThat(spec.initialWorkers(Role.PREFILL)).isEqualTo(1);
    assertThat(spec.initialWorkers(Role.DECODE)).isEqualTo(1);
    assertThat(spec.kvTransfer().connector()).isEqualTo("P2pConnector");
    assertThat(spec.disaggregated()).isTrue();
  }

  @Test
  void replicaModeCountsWorkersPerGroup() {
    ClusterSpec spec =
        SpecParser.parse(
            """
            model: random:tiny
            mode: replica
            groups: {replicas: 2, max: 3}
            roles:
              prefill: {replicas: 1}
              decode: {replicas: 2}
              both: {replicas: 1}
            """,
            "test");
    assertThat(spec.randomPreset()).isEqualTo("tiny");
    assertThat(spec.initialWorkers(Role.PREFILL)).isEqualTo(2);
    assertThat(spec.initialWorkers(Role.DECODE)).isEqualTo(4);
    assertThat(spec.initialWorkers(Role.BOTH)).isEqualTo(1);
    assertThat(spec.independentlyScaledRoles()).containsExactly(Role.BOTH);
  }

  static Stream<Path> examples() throws IOException {
    Path dir = Path.of("..", "examples");
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void everyExampleParses(Path example) throws IOException {
    assertThat(SpecParser.parse(example)).isNotNull();
  }

  @Test
  void unknownKeysAreNamedWithTheirPathAndASuggestion() {
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    """
                    model: random:tiny
                    mode: pool
                    gatway: {port: 8000}
                    roles:
                      decode: {replica: 2}
                    """,
                    "bad.yaml"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining("bad.yaml")
        .hasMessageContaining("unknown key 'gatway' - did you mean 'gateway'?")
        .hasMessageContaining("unknown key 'roles.decode.replica' - did you mean 'replicas'?");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "decode: {replicas: 5, max: 3}|roles.decode.replicas: 5 is outside min..max (1..3)",
        "decode: {replicas: 1, min: 3, max: 2}|roles.decode.min: 3 is greater than max 2",
        "decode: {replicas: -1}|roles.decode.replicas: must be >= 0",
        "decode: {replicas: 0}|no worker can generate tokens",
        "decode: {replicas: two}|roles.decode.replicas: must be an integer, got the text 'two'",
        "prefill: {replicas: 1}|no worker can generate tokens",
        "prefill: {replicas: 1}, decode: {replicas: 1, min: 0}|prefill workers need a decode worker",
        "decode: {replicas: 1, engine: vllm}|an external engine (vllm) needs a command template",
        "decode: {replicas: 1, engine: tgi}|unknown engine 'tgi'",
        "decode: {replicas: 1, command: 'x --port {prot}'}|unknown placeholder {prot}",
        "decode: {replicas: 1, autoscale: {kvUsage: 1.5}}|kvUsage: a fraction of the KV pool",
        "decode: {replicas: 1, autoscale: {}}|set at least one target",
        "prefil: {replicas: 1}|role must be prefill, decode or both, not 'prefil'",
      })
  void impossibleRolesAreRejected(String roles, String expected) {
    String yaml = "model: random:tiny\nmode: pool\nroles: {" + roles + "}\n";
    assertThatThrownBy(() -> SpecParser.parse(yaml, "t"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining(expected);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "mode: replica\\nroles: {decode: {replicas: 1}}|replica mode needs both prefill and decode",
        "mode: replica\\ngroups: {replicas: 0}\\nroles: {prefill: {}, decode: {}}|groups.replicas: 0 groups and no colocated pool",
        "mode: replica\\nroles: {prefill: {max: 3}, decode: {}}|set groups.max instead",
        "mode: pool\\ngroups: 2\\nroles: {decode: {}}|groups: only used in replica mode",
        "mode: both\\nroles: {decode: {}}|is not a mode (expected pool or replica)",
        "mode: pool\\nkvTransfer: {connector: none}\\nroles: {prefill: {}, decode: {}}|kvTransfer.connector: none",
        "mode: pool\\nkvTransfer: {config: {kv_role: kv_both}}\\nroles: {decode: {}}|set by the control plane",
        "mode: pool\\nautoscaler: {panicWindowSeconds: 90}\\nroles: {decode: {}}|must not be longer than stableWindowSeconds",
        "mode: pool\\nroles: {decode: {env: [a]}}|roles.decode.env: must be a mapping",
        "mode: pool\\nname: My_Cluster\\nroles: {decode: {}}|invalid cluster name",
      })
  void impossibleClustersAreRejected(String body, String expected) {
    String yaml = "model: random:tiny\n" + body.replace("\\n", "\n") + "\n";
    assertThatThrownBy(() -> SpecParser.parse(yaml, "t"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining(expected);
  }

  @Test
  void portClashesAreFoundBeforeAnythingStarts() {
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    """
                    model: random:tiny
                    gateway: {port: 8102}
                    roles:
                      prefill: {replicas: 1, max: 4, port: 8100}
                      decode: {replicas: 1, max: 4, port: 8103}
                    """,
                    "t"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining("port clash: gateway.port 8102 overlaps roles.prefill.port 8100-8103")
        .hasMessageContaining(
            "port clash: roles.prefill.port 8100-8103 overlaps roles.decode.port 8103-8106");
  }

  @Test
  void portOutOfRangeIsRejected() {
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    "model: random:tiny\ngateway: {port: 70000}\nroles: {decode: {}}", "t"))
        .hasMessageContaining("gateway.port: must be a port number");
    assertThatThrownBy(
            () ->
                SpecParser.parse("model: random:tiny\nroles: {decode: {port: 65534, max: 4}}", "t"))
        .hasMessageContaining("runs past port 65535");
  }

  @Test
  void missingModelRolesAndBadYamlAreClear() {
    assertThatThrownBy(() -> SpecParser.parse("mode: pool\n", "t"))
        .hasMessageContaining("model: required")
        .hasMessageContaining("roles: required");
    assertThatThrownBy(() -> SpecParser.parse("model: random:huge\nroles: {decode: {}}", "t"))
        .hasMessageContaining("unknown random preset 'huge'");
    assertThatThrownBy(() -> SpecParser.parse("model: [unclosed\n", "t"))
        .hasMessageContaining("not valid YAML");
    assertThatThrownBy(() -> SpecParser.parse("", "t")).hasMessageContaining("the spec is empty");
    assertThatThrownBy(() -> SpecParser.parse("- a\n- b\n", "t"))
        .hasMessageContaining("must be a mapping");
  }

  @Test
  void allProblemsAreReportedTogether() {
    SpecException e =
        (SpecException)
            catchThrowable(
                () ->
                    SpecParser.parse(
                        "model: random:tiny\nfoo: 1\nbar: 2\nroles: {decode: {replicas: -3}}",
                        "t"));
    assertThat(e.problems()).hasSizeGreaterThanOrEqualTo(3);
  }

  @Test
  void commandTemplatesAcceptStringsOrLists() {
    ClusterSpec spec =
        SpecParser.parse(
            """
            model: random:tiny
            roles:
              decode:
                engine: vllm
                command: "vllm serve {model} --port {port} --kv-transfer-config '{kv_config}'"
              both:
                command: ["{baton}", serve, -m, "{model}"]
            """,
            "t");
    assertThat(spec.roles().get(Role.DECODE).command())
        .containsExactly(
            "vllm", "serve", "{model}", "--port", "{port}", "--kv-transfer-config", "{kv_config}");
    assertThat(spec.roles().get(Role.BOTH).command())
        .containsExactly("{baton}", "serve", "-m", "{model}");
  }

  @Test
  void kvConfigCarriesTheRoleAndExtraKeys() {
    ClusterSpec spec =
        SpecParser.parse(
            """
            model: random:tiny
            kvTransfer: {connector: P2pConnector, config: {transport: tcp, lease_seconds: 10}}
            roles: {prefill: {}, decode: {}}
            """,
            "t");
    assertThat(WorkerPlan.kvTransferConfig(spec, Role.PREFILL, null))
        .isEqualTo(
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\",\"transport\":\"tcp\",\"lease_seconds\":10}");
    assertThat(WorkerPlan.kvTransferConfig(spec, Role.DECODE, Path.of("/run/s")))
        .contains("\"kv_role\":\"kv_consumer\"")
        .contains("\"kv_connector_extra_config\":{\"secret_file\":\"/run/s\"}");
  }

  @Test
  void aPrefillAndADecodeOfDifferentEnginesAreRefused() {
    SpecException e =
        (SpecException)
            catchThrowable(
                () ->
                    SpecParser.parse(
                        """
                        model: random:tiny
                        roles:
                          prefill: {replicas: 1}
                          decode: {replicas: 1, engine: vllm, command: "vllm serve {model}"}
                        """,
                        "t"));
    assertThat(e.problems())
        .anySatisfy(
            p ->
                assertThat(p)
                    .contains("prefill runs baton and decode runs vllm")
                    .contains("same engine"));
  }

  @Test
  void vllmWorkersGetTheirOwnSideChannelPortAndGpu() {
    ClusterSpec spec =
        SpecParser.parse(
            """
            model: random:tiny
            host: 127.0.0.1
            roles:
              prefill:
                replicas: 1
                engine: vllm
                command: [env, "CUDA_VISIBLE_DEVICES={gpu}", vllm, serve, "{model}", --port, "{port}"]
              decode:
                replicas: 2
                engine: vllm
                env: {VLLM_NIXL_SIDE_CHANNEL_HOST: 127.0.0.1}
                command: [env, "CUDA_VISIBLE_DEVICES={gpu}", vllm, serve, "{model}", --port, "{port}"]
            """,
            "t");
    Fleet fleet = new Fleet();
    fleet.resetDesired(spec);
    java.util.function.Function<WorkerSlot, WorkerPlan.Launch> planner =
        w ->
            WorkerPlan.worker(
                spec,
                new Toolchain("java", java.util.List.of(), "cp"),
                "/m.gguf",
                w.role,
                w.group,
                w.id,
                new WorkerPlan.Ports(w.port, w.bootstrapPort, w.sideChannelPort),
                w.gpu,
                Path.of("/run/s"),
                "secret",
                Path.of("/run"));
    java.util.List<WorkerSlot> slots =
        fleet.desiredWorkers(spec).stream().map(id -> fleet.newWorker(spec, id, planner)).toList();
    assertThat(slots).hasSize(3);
    assertThat(slots)
        .extracting(w -> w.sideChannelPort)
        .allMatch(p -> p > 0)
        .doesNotHaveDuplicates();
    assertThat(slots)
        .extracting(w -> w.sideChannelPort)
        .doesNotContainAnyElementsOf(slots.stream().map(w -> w.port).toList());
    assertThat(slots).extracting(w -> w.gpu).containsExactly(0, 1, 2);
    for (WorkerSlot w : slots) {
      assertThat(w.launch.env())
          .containsEntry("VLLM_NIXL_SIDE_CHANNEL_PORT", Integer.toString(w.sideChannelPort));
      assertThat(w.launch.command()).contains("CUDA_VISIBLE_DEVICES=" + w.gpu);
    }
    // A stopped worker's GPU goes to the next new one.
    fleet.remove(slots.get(1));
    WorkerSlot next =
        fleet.newWorker(
            spec,
            WorkerIdentity.of(Role.DECODE, null, 1),
            w -> new WorkerPlan.Launch(java.util.List.of("x"), java.util.Map.of()));
    assertThat(next.gpu).isEqualTo(1);
  }

  private static Throwable catchThrowable(Runnable r) {
    try {
      r.run();
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  @Test
  void kvEventsOnGivesEveryBatonWorkerAKvEventsConfigOnTheClusterHost() {
    ClusterSpec spec =
        SpecParser.parse(
            "model: random:tiny\nengine: {kvEvents: true}\nroles:\n  decode: {replicas: 1}\n", "t");
    assertThat(spec.engine().kvEvents()).isTrue();
    WorkerPlan.Launch launch =
        WorkerPlan.worker(
            spec,
            new Toolchain("java", java.util.List.of(), "cp"),
            "/m.gguf",
            Role.DECODE,
            null,
            "decode-0",
            8100,
            0,
            Path.of("/run/s"),
            "secret",
            Path.of("/run"));
    java.util.List<String> command = launch.command();
    int at = command.indexOf("--kv-events-config");
    assertThat(at).isPositive();
    var config = dev.baton.core.Json.parse(command.get(at + 1));
    assertThat(config.path("enable_kv_cache_events").asBoolean()).isTrue();
    assertThat(config.path("endpoint").asText()).isEqualTo("tcp://127.0.0.1:*");
    assertThat(config.path("replay_endpoint").asText()).isEqualTo("tcp://127.0.0.1:*");
    ClusterSpec off =
        SpecParser.parse("model: random:tiny\nroles:\n  decode: {replicas: 1}\n", "t");
    assertThat(off.engine().kvEvents()).isFalse();
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    "model: random:tiny\nengine: {kvEvents: yes please}\nroles:\n"
                        + "  decode: {replicas: 1}\n",
                    "t"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kvEvents");
  }
}
