package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.SpecException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code baton operator render}: every object, read back with a YAML parser. */
class RenderTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  static final String REPLICA =
      """
      apiVersion: baton.dev/v1alpha1
      kind: BatonCluster
      metadata: {name: xpyd}
      spec:
        model: random:tiny
        mode: replica
        groups: {replicas: 2, min: 1, max: 4}
        roles:
          prefill: {replicas: 1}
          decode: {replicas: 2, args: [--max-num-seqs, "8"]}
        kubernetes:
          image: registry.example/baton:1
          podGroups: coscheduling
          resources:
            prefill: {cpu: "8", memory: 32Gi, nvidia.com/gpu: 1}
            decode: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
      """;

  @TempDir Path dir;

  List<JsonNode> render(String manifest) throws IOException {
    Path file = dir.resolve("cluster.yaml");
    Files.writeString(file, manifest);
    String yaml = Manifests.render(Manifests.read(file, "default"), "serving");
    List<JsonNode> docs = new ArrayList<>();
    try (var it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
      while (it.hasNext()) {
        JsonNode doc = (JsonNode) it.next();
        if (doc != null && !doc.isNull() && !doc.isEmpty()) {
          docs.add(doc);
        }
      }
    }
    return docs;
  }

  static List<JsonNode> kind(List<JsonNode> docs, String kind) {
    return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
  }

  static List<String> command(JsonNode container) {
    return StreamSupport.stream(container.path("command").spliterator(), false)
        .map(JsonNode::asText)
        .toList();
  }

  @Test
  void aReplicaClusterRendersGangsOfLabelledGpuPodsAndEverythingAroundThem() throws IOException {
    List<JsonNode> docs = render(REPLICA);

    assertThat(docs)
        .allSatisfy(d -> assertThat(d.at("/metadata/namespace").asText()).isEqualTo("serving"));
    assertThat(docs)
        .allSatisfy(
            d ->
                assertThat(d.at("/metadata/labels/baton.dev~1cluster").asText()).isEqualTo("xpyd"));
    assertThat(kind(docs, "Secret"))
        .extracting(d -> d.at("/metadata/name").asText())
        .containsExactly("xpyd-kv", "xpyd-gateway-config");
    assertThat(kind(docs, "Deployment")).hasSize(1);
    assertThat(kind(docs, "Service")).hasSize(1);
    assertThat(kind(docs, "NetworkPolicy")).hasSize(1);

    List<JsonNode> pods = kind(docs, "Pod");
    assertThat(pods).hasSize(6); // 2 groups x (1 prefill + 2 decode)
    assertThat(pods)
        .extracting(
            p ->
                p.at("/metadata/labels/baton.dev~1group").asText()
                    + "/"
                    + p.at("/metadata/labels/baton.dev~1role").asText())
        .containsExactlyInAnyOrder(
            "g0/prefill", "g0/decode", "g0/decode", "g1/prefill", "g1/decode", "g1/decode");

    JsonNode decode =
        pods.stream()
            .filter(p -> p.at("/metadata/labels/baton.dev~1worker").asText().equals("g1-decode-1"))
            .findFirst()
            .orElseThrow();
    JsonNode worker = decode.at("/spec/containers/0");
    assertThat(worker.path("image").asText()).isEqualTo("registry.example/baton:1");
    assertThat(worker.at("/resources/limits/nvidia.com~1gpu").asText()).isEqualTo("1");
    assertThat(worker.at("/resources/requests/memory").asText()).isEqualTo("16Gi");
    List<String> cmd = command(worker);
    assertThat(cmd)
        .containsSubsequence(
            "serve",
            "-m",
            "/models/random-tiny.gguf",
            "--host",
            "0.0.0.0",
            "--port",
            "8200",
            "--role",
            "decode");
    assertThat(cmd).containsSubsequence("--max-num-seqs", "8");
    String kvConfig = cmd.get(cmd.indexOf("--kv-transfer-config") + 1);
    JsonNode kv = new ObjectMapper().readTree(kvConfig);
    assertThat(kv.path("kv_role").asText()).isEqualTo("kv_consumer");
    assertThat(kv.at("/kv_connector_extra_config/advertise_host").asText()).isEqualTo("$(POD_IP)");
    assertThat(kv.at("/kv_connector_extra_config/secret_file").asText())
        .isEqualTo("/var/run/baton/kv-secret");
    assertThat(kv.at("/kv_connector_extra_config/port").asInt()).isEqualTo(PodFactory.KV_PORT);
    assertThat(decode.at("/spec/securityContext/runAsNonRoot").asBoolean()).isTrue();
    assertThat(decode.at("/spec/volumes/0/secret/secretName").asText()).isEqualTo("xpyd-kv");

    // the random model is created once by an init container into the shared model volume
    JsonNode init = decode.at("/spec/initContainers/0");
    assertThat(command(init))
        .contains("random", "--preset", "tiny")
        .contains("/models/random-tiny.gguf");

    // gangs: one PodGroup per group with minMember = the group's size, pods carry its name
    List<JsonNode> groups = kind(docs, "PodGroup");
    assertThat(groups)
        .extracting(g -> g.at("/metadata/name").asText())
        .containsExactly("xpyd-g0", "xpyd-g1");
    assertThat(groups).allSatisfy(g -> assertThat(g.at("/spec/minMember").asInt()).isEqualTo(3));
    assertThat(decode.at("/metadata/labels/scheduling.x-k8s.io~1pod-group").asText())
        .isEqualTo("xpyd-g1");
    assertThat(decode.at("/metadata/annotations/scheduling.k8s.io~1group-name").asText())
        .isEqualTo("xpyd-g1");

    // the gateway config lists both roles' pool and holds the admin token (a Secret, not a
    // ConfigMap)
    String gatewayYaml = kind(docs, "Secret").get(1).at("/stringData/gateway.yaml").asText();
    JsonNode gateway = YAML.readTree(gatewayYaml);
    assertThat(gateway.path("host").asText()).isEqualTo("0.0.0.0");
    assertThat(gateway.path("admin_token").asText()).hasSize(64);
    assertThat(gateway.at("/pools/0/mode").asText()).isEqualTo("nixl");
    assertThat(command(kind(docs, "Deployment").get(0).at("/spec/template/spec/containers/0")))
        .containsSubsequence("gateway", "--config", "/etc/baton/gateway.yaml", "--port", "8000");
  }

  @Test
  void kvEventsUseFixedPodPortsThatOnlyTheGatewayAndOperatorReach() throws IOException {
    List<JsonNode> docs =
        render(REPLICA.replace("  roles:\n", "  engine: {kvEvents: true}\n  roles:\n"));
    JsonNode worker = kind(docs, "Pod").get(0).at("/spec/containers/0");
    List<String> command = command(worker);
    JsonNode events = YAML.readTree(command.get(command.indexOf("--kv-events-config") + 1));
    assertThat(events.path("endpoint").asText()).isEqualTo("tcp://0.0.0.0:5557");
    assertThat(events.path("replay_endpoint").asText()).isEqualTo("tcp://0.0.0.0:5558");
    assertThat(worker.path("ports"))
        .extracting(p -> p.path("containerPort").asInt())
        .contains(PodFactory.KV_EVENTS_PORT, PodFactory.KV_EVENTS_REPLAY_PORT);
    JsonNode policy = kind(docs, "NetworkPolicy").get(0);
    assertThat(policy.at("/spec/ingress/0/ports"))
        .as("workers do not read each other's events")
        .extracting(p -> p.path("port").asInt())
        .containsExactly(PodFactory.KV_PORT);
    assertThat(policy.at("/spec/ingress/1/ports"))
        .extracting(p -> p.path("port").asInt())
        .containsExactly(5557, 5558, 8100, 8200);
    assertThat(kind(render(REPLICA), "Pod").get(0).at("/spec/containers/0/ports").toString())
        .as("no event ports without engine.kvEvents")
        .doesNotContain("5557");
  }

  @Test
  void onlyWorkersReachTheKvPortAndOnlyTheGatewayAndOperatorReachWorkerHttp() throws IOException {
    JsonNode policy = kind(render(REPLICA), "NetworkPolicy").get(0);
    assertThat(policy.at("/spec/podSelector/matchLabels/app.kubernetes.io~1component").asText())
        .isEqualTo("worker");
    JsonNode kvRule = policy.at("/spec/ingress/0");
    assertThat(kvRule.at("/ports/0/port").asInt()).isEqualTo(PodFactory.KV_PORT);
    assertThat(kvRule.at("/from/0/podSelector/matchLabels/app.kubernetes.io~1component").asText())
        .isEqualTo("worker");
    assertThat(kvRule.at("/from")).hasSize(1);
    JsonNode httpRule = policy.at("/spec/ingress/1");
    assertThat(httpRule.at("/ports"))
        .extracting(p -> p.path("port").asInt())
        .containsExactly(8100, 8200);
    assertThat(httpRule.at("/from/0/podSelector/matchLabels/app.kubernetes.io~1component").asText())
        .isEqualTo("gateway");
    assertThat(httpRule.at("/from/1/podSelector/matchLabels/app.kubernetes.io~1name").asText())
        .isEqualTo("baton-operator");
  }

  @Test
  void aPlainClusterSpecWithAUrlModelOnAClaimIsDownloadedOnceByAnInitContainer()
      throws IOException {
    List<JsonNode> docs =
        render(
            """
            name: web
            model: https://models.example/llama/q8.gguf?sig=1
            roles:
              both: {replicas: 2}
            kvTransfer: {connector: none}
            kubernetes:
              modelVolume: {claimName: model-cache}
            """);
    assertThat(kind(docs, "PodGroup")).isEmpty();
    List<JsonNode> pods = kind(docs, "Pod");
    assertThat(pods).hasSize(2);
    JsonNode pod = pods.get(0);
    assertThat(pod.at("/metadata/labels/baton.dev~1role").asText()).isEqualTo("both");
    assertThat(pod.at("/metadata/labels/baton.dev~1group").isMissingNode()).isTrue();
    JsonNode init = pod.at("/spec/initContainers/0");
    assertThat(init.path("image").asText()).isEqualTo(KubernetesSettings.DEFAULT_DOWNLOAD_IMAGE);
    assertThat(command(init))
        .contains("/models/q8.gguf", "https://models.example/llama/q8.gguf?sig=1");
    assertThat(command(init).get(2)).startsWith("test -s \"$0\" ||");
    assertThat(pod.at("/spec/volumes/2/persistentVolumeClaim/claimName").asText())
        .isEqualTo("model-cache");
    assertThat(command(pod.at("/spec/containers/0")))
        .containsSubsequence("-m", "/models/q8.gguf")
        .doesNotContain("--kv-transfer-config");
    assertThat(pod.at("/spec/containers/0/ports")).hasSize(1); // no KV port without KV transfer
  }

  @Test
  void vllmPodsAdvertiseTheirPodIpOnTheSideChannelWhichOnlyWorkersReach() throws IOException {
    List<JsonNode> docs = render(Files.readString(Path.of("..", "examples", "vllm-external.yaml")));
    JsonNode prefill =
        kind(docs, "Pod").stream()
            .filter(p -> p.at("/metadata/labels/baton.dev~1role").asText().equals("prefill"))
            .findFirst()
            .orElseThrow();
    JsonNode container = prefill.at("/spec/containers/0");
    List<String> cmd = command(container);
    assertThat(cmd)
        .startsWith("vllm", "serve", "/models/Llama-3.2-1B-Instruct", "--host", "0.0.0.0");
    List<String> env = new ArrayList<>();
    container
        .path("env")
        .forEach(e -> env.add(e.path("name").asText() + "=" + e.path("value").asText()));
    // the example's local 127.0.0.1 is replaced: only the pod IP works between pods
    assertThat(env)
        .contains("VLLM_NIXL_SIDE_CHANNEL_HOST=$(POD_IP)", "VLLM_NIXL_SIDE_CHANNEL_PORT=5600");
    assertThat(env.indexOf("POD_IP="))
        .isLessThan(env.indexOf("VLLM_NIXL_SIDE_CHANNEL_HOST=$(POD_IP)"));
    JsonNode policy = kind(docs, "NetworkPolicy").get(0);
    assertThat(policy.at("/spec/ingress/0/ports/0/port").asInt())
        .isEqualTo(PodFactory.SIDE_CHANNEL_PORT);
    assertThat(
            policy
                .at("/spec/ingress/0/from/0/podSelector/matchLabels/app.kubernetes.io~1component")
                .asText())
        .isEqualTo("worker");
  }

  @Test
  void anOffloadCacheGetsTheRedisServiceAndNoBlockServerSettings() throws IOException {
    List<JsonNode> docs =
        render(
            """
            name: offload
            model: random:tiny
            kvTransfer:
              connector: OffloadConnector
              cache: {redis: "redis://redis.cache.svc:6379/0"}
            roles:
              both: {replicas: 1}
            """);
    List<String> cmd = command(kind(docs, "Pod").get(0).at("/spec/containers/0"));
    JsonNode kv = new ObjectMapper().readTree(cmd.get(cmd.indexOf("--kv-transfer-config") + 1));
    assertThat(kv.at("/kv_connector_extra_config/l2_url").asText())
        .isEqualTo("redis://redis.cache.svc:6379/0");
    assertThat(kv.at("/kv_connector_extra_config/peers").isMissingNode()).isTrue();
    assertThat(kv.at("/kv_connector_extra_config/advertise_host").isMissingNode()).isTrue();
  }

  @Test
  void aLocalRedisCannotRunInAPodAndIsRefused() throws IOException {
    Path file = dir.resolve("local-redis.yaml");
    Files.writeString(
        file,
        """
        model: random:tiny
        kvTransfer: {connector: OffloadConnector, cache: {redis: local}}
        roles: {both: {replicas: 1}}
        """);
    assertThatThrownBy(() -> Manifests.read(file, "x"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining("kvTransfer.cache.redis: 'local'");
  }

  @Test
  void cpuPinningIsForLocalProcessesAndIsRefused() throws IOException {
    Path file = dir.resolve("pinned.yaml");
    Files.writeString(file, "model: random:tiny\ncpuPinning: true\nroles: {both: {replicas: 1}}\n");
    assertThatThrownBy(() -> Manifests.read(file, "x"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining("cpuPinning: pins local worker processes")
        .hasMessageContaining("static CPU manager policy");
  }

  @Test
  void aBadSpecIsRefusedWithEveryProblemNamed() throws IOException {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(
        file,
        """
        kind: BatonCluster
        metadata: {name: Bad_Name}
        spec:
          model: random:huge
          mode: replica
          roles: {decode: {replicas: 1}}
          kubernetes: {podGroups: yes-please, imagee: x}
        """);
    assertThatThrownBy(() -> Manifests.read(file, "default"))
        .isInstanceOf(SpecException.class)
        .hasMessageContaining("metadata.name")
        .hasMessageContaining("unknown random preset 'huge'")
        .hasMessageContaining("kubernetes.podGroups")
        .hasMessageContaining("kubernetes.imagee");
  }

  @Test
  void theShippedSampleRendersTwoGpuGangsOnItsClaim() throws IOException {
    ClusterDefinition def =
        Manifests.read(Path.of("..", "deploy", "sample", "batoncluster.yaml"), "default");
    assertThat(def.name()).isEqualTo("llama");
    List<JsonNode> docs =
        render(Files.readString(Path.of("..", "deploy", "sample", "batoncluster.yaml")));
    assertThat(kind(docs, "Pod")).hasSize(6);
    assertThat(kind(docs, "PodGroup")).hasSize(2);
    assertThat(kind(docs, "Pod"))
        .allSatisfy(
            p -> {
              assertThat(p.at("/spec/schedulerName").asText())
                  .isEqualTo("scheduler-plugins-scheduler");
              assertThat(p.at("/spec/containers/0/resources/limits/nvidia.com~1gpu").asText())
                  .isEqualTo("1");
            });
  }

  @Test
  void aChangedFlagChangesOnlyThatRolesRevision() throws IOException {
    List<JsonNode> before = kind(render(REPLICA), "Pod");
    List<JsonNode> after =
        kind(render(REPLICA.replace("[--max-num-seqs, \"8\"]", "[--max-num-seqs, \"16\"]")), "Pod");
    assertThat(revisions(after, "prefill")).isEqualTo(revisions(before, "prefill"));
    assertThat(revisions(after, "decode")).doesNotContainAnyElementsOf(revisions(before, "decode"));
  }

  private static List<String> revisions(List<JsonNode> pods, String role) {
    return pods.stream()
        .filter(p -> p.at("/metadata/labels/baton.dev~1role").asText().equals(role))
        .map(p -> p.at("/metadata/labels/baton.dev~1revision").asText())
        .distinct()
        .toList();
  }
}
