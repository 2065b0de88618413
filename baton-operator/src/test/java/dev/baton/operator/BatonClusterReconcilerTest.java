package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.GatewayAdmin.WorkerInfo;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.javaoperatorsdk.operator.Operator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator against fabric8's mock API server in CRUD mode (a stand-in that stores, lists,
 * patches and watches like the real API server; it runs no controllers or kubelet, so the test
 * plays the kubelet: it marks pods Running and Ready, or failed).
 */
@EnableKubernetesMockClient(crud = true)
class BatonClusterReconcilerTest {

  static KubernetesClient client;
  static KubernetesMockServer server;

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final String NS = "test";
  private static final AtomicInteger IP = new AtomicInteger(10);

  /** Records what the operator tells the gateway (pods here have no process to health-check). */
  static final class RecordingGateway extends GatewayRegistry {
    final Set<String> registered = Collections.synchronizedSet(new java.util.LinkedHashSet<>());
    final List<String> removed = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void sync(
        String cluster, String baseUrl, String token, String gatewayPod, List<WorkerInfo> ready) {
      if (gatewayPod != null) {
        registered.retainAll(ready.stream().map(WorkerInfo::url).toList());
        ready.forEach(w -> registered.add(w.url()));
      }
    }

    @Override
    public void remove(String cluster, String baseUrl, String token, WorkerInfo worker) {
      registered.remove(worker.url());
      removed.add(worker.id());
    }
  }

  RecordingGateway gateway;
  Operator operator;

  @BeforeEach
  void start() {
    client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .resource(CrdFactory.crd())
        .createOr(c -> c.update());
    gateway = new RecordingGateway();
    operator = OperatorMain.start(client, gateway, null);
  }

  @AfterEach
  void stop() {
    operator.stop();
  }

  static BatonCluster cluster(String name, String specYaml) throws Exception {
    BatonCluster cluster = new BatonCluster();
    cluster.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    cluster.setSpec(YAML.readTree(specYaml));
    return client.resource(cluster).create();
  }

  static final String REPLICA =
      """
      model: random:tiny
      mode: replica
      groups: {replicas: 2, min: 1, max: 4}
      roles:
        prefill: {replicas: 1}
        decode: {replicas: 2}
      kubernetes: {podGroups: coscheduling}
      """;

  static List<Pod> workers(String cluster) {
    return Kubelet.workers(client, NS, cluster);
  }

  static BatonCluster get(String name) {
    return client.resources(BatonCluster.class).inNamespace(NS).withName(name).get();
  }

  static List<GenericKubernetesResource> podGroups(String cluster) {
    return client
        .genericKubernetesResources(
            new ResourceDefinitionContext.Builder()
                .withGroup("scheduling.x-k8s.io")
                .withVersion("v1alpha1")
                .withKind("PodGroup")
                .withPlural("podgroups")
                .withNamespaced(true)
                .build())
        .inNamespace(NS)
        .withLabel(Labels.CLUSTER, cluster)
        .list()
        .getItems();
  }

  /** Plays the kubelet: the pod runs and passes its readiness probe. */
  static void markReady(Pod pod) {
    Kubelet.report(
        client, NS, pod.getMetadata().getName(), "Running", true, "10.0.0." + IP.incrementAndGet());
  }

  static void markAllReady(String cluster) {
    workers(cluster).stream()
        .filter(p -> !PodBackend.isReady(p))
        .forEach(BatonClusterReconcilerTest::markReady);
  }

  /** Plays the Deployment controller and kubelet for the gateway: one ready gateway pod. */
  static void gatewayPodReady(String cluster) {
    Pod pod =
        client
            .pods()
            .inNamespace(NS)
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName(cluster + "-gateway-abc")
                    .withLabels(ObjectLabels.common(cluster, Labels.GATEWAY_COMPONENT))
                    .endMetadata()
                    .withNewSpec()
                    .addNewContainer()
                    .withName("gateway")
                    .withImage("x")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    markReady(pod);
  }

  static Set<String> names(List<Pod> pods) {
    return pods.stream().map(p -> p.getMetadata().getName()).collect(Collectors.toSet());
  }

  static Map<String, List<String>> byGroup(List<Pod> pods) {
    return pods.stream()
        .collect(
            Collectors.groupingBy(
                p -> p.getMetadata().getLabels().get(Labels.GROUP),
                Collectors.mapping(p -> p.getMetadata().getName(), Collectors.toList())));
  }

  @Test
  void aClusterGetsItsObjectsAGangPerGroupAndAStatus() throws Exception {
    cluster("xpyd", REPLICA);

    await().atMost(Duration.ofSeconds(20)).until(() -> workers("xpyd").size() == 6);
    assertThat(byGroup(workers("xpyd"))).containsOnlyKeys("g0", "g1");
    assertThat(client.secrets().inNamespace(NS).withName("xpyd-kv").get()).isNotNull();
    assertThat(client.secrets().inNamespace(NS).withName("xpyd-gateway-config").get()).isNotNull();
    assertThat(client.apps().deployments().inNamespace(NS).withName("xpyd-gateway").get())
        .isNotNull();
    assertThat(client.services().inNamespace(NS).withName("xpyd-gateway").get()).isNotNull();
    assertThat(
            client.network().v1().networkPolicies().inNamespace(NS).withName("xpyd-workers").get())
        .isNotNull();
    assertThat(podGroups("xpyd"))
        .extracting(g -> g.getMetadata().getName())
        .containsExactlyInAnyOrder("xpyd-g0", "xpyd-g1");
    assertThat(workers("xpyd"))
        .allSatisfy(
            p ->
                assertThat(p.getMetadata().getOwnerReferences())
                    .extracting(o -> o.getKind())
                    .containsExactly("BatonCluster"));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              BatonCluster c = get("xpyd");
              assertThat(c.getMetadata().getFinalizers()).isNotEmpty();
              assertThat(c.getStatus()).isNotNull();
              assertThat(c.getStatus().getObservedGeneration())
                  .isEqualTo(c.getMetadata().getGeneration());
              assertThat(c.getStatus().condition("SpecValid").getStatus()).isEqualTo("True");
              assertThat(c.getStatus().condition("Ready").getStatus()).isEqualTo("False");
              assertThat(c.getStatus().getReplicas()).isEqualTo(2);
              assertThat(c.getStatus().getSelector())
                  .isEqualTo("baton.dev/cluster=xpyd,app.kubernetes.io/component=worker");
            });

    gatewayPodReady("xpyd");
    markAllReady("xpyd");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              BatonClusterStatus s = get("xpyd").getStatus();
              assertThat(s.getPhase()).isEqualTo("Running");
              assertThat(s.condition("Ready").getStatus()).isEqualTo("True");
              assertThat(s.getReadyWorkers())
                  .containsEntry("prefill", 2)
                  .containsEntry("decode", 4);
              assertThat(s.getReadyGroups()).containsEntry("g0", 3).containsEntry("g1", 3);
              assertThat(gateway.registered).hasSize(6);
            });
  }

  @Test
  void aGroupThatLosesAPodIsReplacedWholeAndTheOtherGroupIsLeftAlone() throws Exception {
    cluster("gang", REPLICA);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("gang").size() == 6);
    markAllReady("gang");
    Map<String, List<String>> before = byGroup(workers("gang"));

    String victim = before.get("g1").get(0);
    client.pods().inNamespace(NS).withName(victim).delete();

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              Map<String, List<String>> after = byGroup(workers("gang"));
              assertThat(after.get("g0")).containsExactlyInAnyOrderElementsOf(before.get("g0"));
              assertThat(after.get("g1")).hasSize(3).doesNotContainAnyElementsOf(before.get("g1"));
            });
    assertThat(gateway.removed).hasSize(2); // the two surviving g1 members left the gateway first
  }

  @Test
  void aRestartedOperatorAdoptsTheRunningPodsInsteadOfRecreatingThem() throws Exception {
    cluster("adopt", REPLICA);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("adopt").size() == 6);
    markAllReady("adopt");
    gatewayPodReady("adopt");
    await().atMost(Duration.ofSeconds(20)).until(() -> gateway.registered.size() == 6);
    Map<String, String> before =
        workers("adopt").stream()
            .collect(
                Collectors.toMap(p -> p.getMetadata().getName(), p -> p.getMetadata().getUid()));

    operator.stop();
    gateway = new RecordingGateway(); // a new process knows nothing of the last one
    operator = OperatorMain.start(client, gateway, null);
    // its first reconcile observed the six ready pods from their labels and told the gateway
    await().atMost(Duration.ofSeconds(20)).until(() -> gateway.registered.size() == 6);
    assertThat(
            workers("adopt").stream()
                .collect(
                    Collectors.toMap(
                        p -> p.getMetadata().getName(), p -> p.getMetadata().getUid())))
        .isEqualTo(before);
    assertThat(gateway.removed).isEmpty();
    assertThat(get("adopt").getStatus().getPhase()).isEqualTo("Running");
  }

  @Test
  void aFailedPoolPodIsRecreated() throws Exception {
    cluster(
        "pool",
        """
        model: random:tiny
        roles:
          prefill: {replicas: 1}
          decode: {replicas: 2}
        """);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("pool").size() == 3);
    markAllReady("pool");
    Pod decode =
        workers("pool").stream()
            .filter(p -> p.getMetadata().getLabels().get(Labels.WORKER).equals("decode-1"))
            .findFirst()
            .orElseThrow();
    client
        .pods()
        .inNamespace(NS)
        .withName(decode.getMetadata().getName())
        .editStatus(p -> new PodBuilder(p).editStatus().withPhase("Failed").endStatus().build());

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              List<Pod> now = workers("pool");
              assertThat(names(now)).doesNotContain(decode.getMetadata().getName()).hasSize(3);
              assertThat(now)
                  .extracting(p -> p.getMetadata().getLabels().get(Labels.WORKER))
                  .containsExactlyInAnyOrder("prefill-0", "decode-0", "decode-1");
            });
  }

  @Test
  void theScaleSubresourceScalesGroupsAndScaleInDrainsTheNewestGroup() throws Exception {
    cluster("scaled", REPLICA);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("scaled").size() == 6);

    client.resources(BatonCluster.class).inNamespace(NS).withName("scaled").scale(3);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(byGroup(workers("scaled"))).containsOnlyKeys("g0", "g1", "g2");
              assertThat(podGroups("scaled"))
                  .extracting(g -> g.getMetadata().getName())
                  .contains("scaled-g2");
              assertThat(get("scaled").getStatus().getReplicas()).isEqualTo(3);
            });

    client.resources(BatonCluster.class).inNamespace(NS).withName("scaled").scale(1);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(byGroup(workers("scaled"))).containsOnlyKeys("g0");
              assertThat(podGroups("scaled"))
                  .extracting(g -> g.getMetadata().getName())
                  .doesNotContain("scaled-g1", "scaled-g2");
            });
    assertThat(gateway.removed).extracting(id -> id.substring(0, 2)).containsOnly("g1", "g2");
  }

  @Test
  void aBadSpecGetsAConditionSayingWhyAndNothingIsCreated() throws Exception {
    cluster(
        "broken",
        """
        model: random:huge
        roles:
          decode: {replicas: 9, max: 2}
        """);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              BatonClusterStatus s = get("broken").getStatus();
              assertThat(s).isNotNull();
              assertThat(s.getPhase()).isEqualTo("Failed");
              assertThat(s.condition("SpecValid").getStatus()).isEqualTo("False");
              assertThat(s.condition("SpecValid").getMessage())
                  .contains("unknown random preset 'huge'");
            });
    assertThat(workers("broken")).isEmpty();
    assertThat(
            client.secrets().inNamespace(NS).withLabel(Labels.CLUSTER, "broken").list().getItems())
        .isEmpty();
    assertThat(
            client
                .apps()
                .deployments()
                .inNamespace(NS)
                .withLabel(Labels.CLUSTER, "broken")
                .list()
                .getItems())
        .isEmpty();
  }

  @Test
  void deletingTheClusterDeletesEverythingItMade() throws Exception {
    cluster("gone", REPLICA);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("gone").size() == 6);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                get("gone").getMetadata().getFinalizers() != null
                    && !get("gone").getMetadata().getFinalizers().isEmpty());

    client.resources(BatonCluster.class).inNamespace(NS).withName("gone").delete();

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(get("gone")).isNull();
              assertThat(workers("gone")).isEmpty();
              assertThat(
                      client
                          .secrets()
                          .inNamespace(NS)
                          .withLabel(Labels.CLUSTER, "gone")
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(
                      client
                          .apps()
                          .deployments()
                          .inNamespace(NS)
                          .withLabel(Labels.CLUSTER, "gone")
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(
                      client
                          .services()
                          .inNamespace(NS)
                          .withLabel(Labels.CLUSTER, "gone")
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(
                      client
                          .network()
                          .v1()
                          .networkPolicies()
                          .inNamespace(NS)
                          .withLabel(Labels.CLUSTER, "gone")
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(podGroups("gone")).isEmpty();
            });
  }

  static String revisionOf(Pod pod) {
    return pod.getMetadata().getLabels().get(Labels.REVISION);
  }

  static List<Pod> role(String cluster, String role) {
    return workers(cluster).stream()
        .filter(p -> role.equals(p.getMetadata().getLabels().get(Labels.ROLE)))
        .toList();
  }

  @Test
  void aChangedFlagRollsOneWorkerAtATimeAndDrainsTheOldOneOnlyOnceItsReplacementIsReady()
      throws Exception {
    String spec =
        """
        model: random:tiny
        roles:
          prefill: {replicas: 1}
          decode: {replicas: 2, args: [--max-num-seqs, "8"]}
        """;
    cluster("rolling", spec);
    await().atMost(Duration.ofSeconds(20)).until(() -> workers("rolling").size() == 3);
    gatewayPodReady("rolling");
    markAllReady("rolling");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> "Running".equals(get("rolling").getStatus().getPhase()));
    Set<String> oldDecode = names(role("rolling", "decode"));
    Set<String> prefill = names(role("rolling", "prefill"));
    String oldRevision = revisionOf(role("rolling", "decode").get(0));

    client
        .resources(BatonCluster.class)
        .inNamespace(NS)
        .withName("rolling")
        .edit(
            c -> {
              try {
                c.setSpec(YAML.readTree(spec.replace("\"8\"", "\"16\"")));
              } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
              }
              return c;
            });

    // surge one: a new decode pod next to both old ones; nothing drained while it is not ready
    await().atMost(Duration.ofSeconds(20)).until(() -> role("rolling", "decode").size() == 3);
    List<Pod> fresh =
        role("rolling", "decode").stream()
            .filter(p -> !oldDecode.contains(p.getMetadata().getName()))
            .toList();
    assertThat(fresh).hasSize(1);
    assertThat(revisionOf(fresh.get(0))).isNotEqualTo(oldRevision);
    String firstWorker = fresh.get(0).getMetadata().getLabels().get(Labels.WORKER);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(() -> role("rolling", "decode").size() == 3);
    assertThat(gateway.removed).isEmpty();
    assertThat(get("rolling").getStatus().getPhase()).isEqualTo("Progressing");

    // ready: the old pod of that worker is drained (out of the gateway first), then the next rolls
    markReady(fresh.get(0));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(gateway.removed).containsExactly(firstWorker);
              List<Pod> decode = role("rolling", "decode");
              assertThat(decode).hasSize(3);
              assertThat(decode.stream().filter(p -> revisionOf(p).equals(oldRevision))).hasSize(1);
            });
    markAllReady("rolling");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              List<Pod> decode = role("rolling", "decode");
              assertThat(decode).hasSize(2).noneMatch(p -> revisionOf(p).equals(oldRevision));
              assertThat(gateway.removed).hasSize(2).doesNotHaveDuplicates();
            });
    assertThat(names(role("rolling", "prefill"))).isEqualTo(prefill); // its flags did not change
    markAllReady("rolling");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              BatonClusterStatus s = get("rolling").getStatus();
              assertThat(s.getPhase()).isEqualTo("Running");
              assertThat(s.condition("Progressing").getStatus()).isEqualTo("False");
              assertThat(s.getObservedGeneration())
                  .isEqualTo(get("rolling").getMetadata().getGeneration());
            });
  }

  /**
   * Built-in autoscaling: the operator scrapes the ready pods' /metrics (here a stand-in worker's
   * metrics endpoint on loopback, in vLLM's Prometheus format, since mock pods run nothing) and the
   * control plane's autoscaler writes the new count into the spec.
   */
  @Test
  void theAutoscalerScalesAPoolFromItsPodsMetricsThroughTheSpec() throws Exception {
    java.util.concurrent.atomic.AtomicInteger waiting =
        new java.util.concurrent.atomic.AtomicInteger(10);
    com.sun.net.httpserver.HttpServer metrics =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    metrics.createContext(
        "/metrics",
        exchange -> {
          byte[] body =
              ("""
          # TYPE vllm:num_requests_waiting gauge
          vllm:num_requests_waiting %d
          # TYPE vllm:num_requests_running gauge
          vllm:num_requests_running 0
          """
                      .formatted(waiting.get()))
                  .getBytes(java.nio.charset.StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    metrics.start();
    try {
      int port = metrics.getAddress().getPort();
      cluster(
          "auto",
          """
          model: random:tiny
          kvTransfer: {connector: none}
          roles:
            decode:
              replicas: 1
              min: 1
              max: 3
              port: %d
              autoscale: {waitingPerReplica: 2}
          autoscaler: {intervalSeconds: 0.3, panicWindowSeconds: 1, stableWindowSeconds: 2, scaleDownCooldownSeconds: 0}
          """
              .formatted(port));
      await().atMost(Duration.ofSeconds(20)).until(() -> workers("auto").size() == 1);
      markLoopbackReady("auto");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(get("auto").getSpec().at("/roles/decode/replicas").asInt()).isEqualTo(3);
                assertThat(workers("auto")).hasSize(3);
              });
      markLoopbackReady("auto");
      waiting.set(0);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(get("auto").getSpec().at("/roles/decode/replicas").asInt()).isEqualTo(1);
                assertThat(workers("auto")).hasSize(1);
              });
    } finally {
      metrics.stop(0);
    }
  }

  /**
   * {@code autoscaler.pdRatio} in the operator: decode scales on its pods' metrics and prefill,
   * without targets of its own, follows at 1:1 through the spec.
   */
  @Test
  void withAPdRatioThePrefillPoolFollowsTheAutoscaledDecodePool() throws Exception {
    java.util.concurrent.atomic.AtomicInteger waiting =
        new java.util.concurrent.atomic.AtomicInteger(10);
    List<com.sun.net.httpserver.HttpServer> servers = new java.util.ArrayList<>();
    for (int i = 0; i < 2; i++) {
      com.sun.net.httpserver.HttpServer server =
          com.sun.net.httpserver.HttpServer.create(
              new java.net.InetSocketAddress("127.0.0.1", 0), 0);
      server.createContext(
          "/metrics",
          exchange -> {
            byte[] body =
                ("vllm:num_requests_waiting " + waiting.get() + "\nvllm:num_requests_running 0\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
          });
      server.start();
      servers.add(server);
    }
    try {
      cluster(
          "ratio",
          """
          model: random:tiny
          roles:
            prefill: {replicas: 1, min: 1, max: 3, port: %d}
            decode: {replicas: 1, min: 1, max: 3, port: %d, autoscale: {waitingPerReplica: 2}}
          autoscaler:
            intervalSeconds: 0.3
            panicWindowSeconds: 1
            stableWindowSeconds: 2
            scaleDownCooldownSeconds: 0
            pdRatio: {target: 1}
          """
              .formatted(
                  servers.get(0).getAddress().getPort(), servers.get(1).getAddress().getPort()));
      await().atMost(Duration.ofSeconds(20)).until(() -> workers("ratio").size() == 2);
      markLoopbackReady("ratio");
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(get("ratio").getSpec().at("/roles/decode/replicas").asInt())
                    .isEqualTo(3);
                assertThat(get("ratio").getSpec().at("/roles/prefill/replicas").asInt())
                    .isEqualTo(3);
              });
      markLoopbackReady("ratio");
      waiting.set(0);
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(get("ratio").getSpec().at("/roles/decode/replicas").asInt())
                    .isEqualTo(1);
                assertThat(get("ratio").getSpec().at("/roles/prefill/replicas").asInt())
                    .isEqualTo(1);
              });
    } finally {
      servers.forEach(server -> server.stop(0));
    }
  }

  /** Plays the kubelet for pods whose "pod IP" is loopback, where a stand-in serves /metrics. */
  static void markLoopbackReady(String cluster) {
    workers(cluster).stream()
        .filter(p -> !PodBackend.isReady(p))
        .forEach(
            pod ->
                client
                    .pods()
                    .inNamespace(NS)
                    .withName(pod.getMetadata().getName())
                    .editStatus(
                        p ->
                            new PodBuilder(p)
                                .withNewStatus()
                                .withPhase("Running")
                                .withPodIP("127.0.0.1")
                                .withConditions(
                                    new PodConditionBuilder()
                                        .withType("Ready")
                                        .withStatus("True")
                                        .build())
                                .endStatus()
                                .build()));
  }
}
