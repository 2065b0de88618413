package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The RBAC manifest grants exactly what the operator does: a whole life cycle (create, gang
 * replace, scale out and in, a refused spec, deletion) runs against the mock API server, every
 * request the operator's client made is turned into (API group, resource, verb) as the API server's
 * authorizer sees it, and that set must equal the rules in deploy/base/rbac.yaml (the ClusterRole,
 * and the Role for the leader Lease: the operator runs with leader election here).
 */
@EnableKubernetesMockClient(crud = true)
class OperatorRbacTest {

  static KubernetesClient client;
  static KubernetesMockServer server;

  private static final String AGENT = "baton-operator-under-test";
  private static final String NS = "rbac";

  /** Needed by the API server itself, never requested: blockOwnerDeletion on owner references. */
  private static final Set<String> IMPLIED = Set.of("baton.dev batonclusters/finalizers update");

  @Test
  void theClusterRoleGrantsExactlyTheVerbsTheOperatorUses() throws Exception {
    client.apiextensions().v1().customResourceDefinitions().resource(CrdFactory.crd()).create();
    KubernetesClient operatorClient =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder(client.getConfiguration()).withUserAgent(AGENT).build())
            .build();
    Leadership leadership =
        Leadership.start(
            operatorClient,
            "baton-system",
            "rbac-test",
            Leadership.Timing.STANDARD,
            () -> OperatorMain.start(operatorClient, new GatewayRegistry(), null),
            () -> {});
    try {
      lifeCycle();
    } finally {
      leadership.close();
      operatorClient.close();
    }
    Set<String> used = new TreeSet<>();
    RecordedRequest request;
    while ((request = server.takeRequest(200, TimeUnit.MILLISECONDS)) != null) {
      if (AGENT.equals(request.getHeader("User-Agent"))) {
        used.add(permission(request.getMethod(), request.getPath()));
      }
    }
    Set<String> granted = granted(Path.of("..", "deploy", "base", "rbac.yaml"));
    Set<String> expected = new TreeSet<>(used);
    expected.addAll(IMPLIED);
    assertThat(granted).isEqualTo(expected);
  }

  private void lifeCycle() throws Exception {
    String volcano = BatonClusterReconcilerTest.REPLICA.replace("coscheduling", "volcano");
    for (String name : List.of("life", "volcano")) {
      BatonCluster cluster = new BatonCluster();
      cluster.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
      cluster.setSpec(
          new ObjectMapper(new YAMLFactory())
              .readTree(name.equals("life") ? BatonClusterReconcilerTest.REPLICA : volcano));
      client.resource(cluster).create();
      await().atMost(Duration.ofSeconds(20)).until(() -> pods(name).size() == 6);
      client.pods().inNamespace(NS).withName(pods(name).get(0).getMetadata().getName()).delete();
      client.resources(BatonCluster.class).inNamespace(NS).withName(name).scale(3);
      await().atMost(Duration.ofSeconds(20)).until(() -> pods(name).size() == 9);
      client.resources(BatonCluster.class).inNamespace(NS).withName(name).scale(1);
      await().atMost(Duration.ofSeconds(20)).until(() -> pods(name).size() == 3);
    }

    BatonCluster bad = new BatonCluster();
    bad.setMetadata(new ObjectMetaBuilder().withName("bad").withNamespace(NS).build());
    bad.setSpec(new ObjectMapper().readTree("{\"model\": \"random:nope\"}"));
    client.resource(bad).create();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              BatonCluster c =
                  client.resources(BatonCluster.class).inNamespace(NS).withName("bad").get();
              return c.getStatus() != null && "Failed".equals(c.getStatus().getPhase());
            });

    autoscaledCluster();

    for (String name : List.of("life", "volcano", "bad", "auto")) {
      client.resources(BatonCluster.class).inNamespace(NS).withName(name).delete();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  client.resources(BatonCluster.class).inNamespace(NS).withName(name).get()
                      == null);
    }
  }

  /** A pool the autoscaler grows from its pods' metrics (a loopback stand-in serves them). */
  private void autoscaledCluster() throws Exception {
    com.sun.net.httpserver.HttpServer metrics =
        com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
    metrics.createContext(
        "/metrics",
        exchange -> {
          byte[] body =
              "vllm:num_requests_waiting 10\nvllm:num_requests_running 0\n"
                  .getBytes(java.nio.charset.StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    metrics.start();
    try {
      BatonCluster cluster = new BatonCluster();
      cluster.setMetadata(new ObjectMetaBuilder().withName("auto").withNamespace(NS).build());
      cluster.setSpec(
          new ObjectMapper(new YAMLFactory())
              .readTree(
                  """
          model: random:tiny
          kvTransfer: {connector: none}
          roles:
            decode: {replicas: 1, min: 1, max: 2, port: %d, autoscale: {waitingPerReplica: 2}}
          autoscaler: {intervalSeconds: 0.3, panicWindowSeconds: 1, stableWindowSeconds: 2}
          """
                      .formatted(metrics.getAddress().getPort())));
      client.resource(cluster).create();
      await().atMost(Duration.ofSeconds(20)).until(() -> pods("auto").size() == 1);
      client
          .pods()
          .inNamespace(NS)
          .withName(pods("auto").get(0).getMetadata().getName())
          .editStatus(
              p ->
                  new io.fabric8.kubernetes.api.model.PodBuilder(p)
                      .withNewStatus()
                      .withPhase("Running")
                      .withPodIP("127.0.0.1")
                      .withConditions(
                          new io.fabric8.kubernetes.api.model.PodConditionBuilder()
                              .withType("Ready")
                              .withStatus("True")
                              .build())
                      .endStatus()
                      .build());
      await().atMost(Duration.ofSeconds(20)).until(() -> pods("auto").size() == 2);
    } finally {
      metrics.stop(0);
    }
  }

  private static List<Pod> pods(String cluster) {
    return Kubelet.workers(client, NS, cluster);
  }

  /** "group resource[/subresource] verb", as the API server's authorizer names a request. */
  static String permission(String method, String path) {
    URI uri = URI.create(path);
    String[] parts = uri.getPath().substring(1).split("/");
    String group;
    int i;
    if (parts[0].equals("api")) {
      group = "";
      i = 2; // api/v1/...
    } else {
      group = parts[1];
      i = 3; // apis/group/version/...
    }
    if (i < parts.length && parts[i].equals("namespaces") && i + 2 < parts.length) {
      i += 2;
    }
    String resource = parts[i];
    String name = i + 1 < parts.length ? parts[i + 1] : null;
    if (i + 2 < parts.length) {
      resource += "/" + parts[i + 2];
    }
    String query = uri.getQuery() == null ? "" : uri.getQuery();
    String verb =
        switch (method) {
          case "GET" -> name != null ? "get" : query.contains("watch=true") ? "watch" : "list";
          case "POST" -> "create";
          case "PUT" -> "update";
          case "PATCH" -> "patch";
          case "DELETE" -> name != null ? "delete" : "deletecollection";
          default -> method;
        };
    return group + " " + resource + " " + verb;
  }

  static Set<String> granted(Path rbac) throws Exception {
    Set<String> granted = new TreeSet<>();
    try (var docs =
        new ObjectMapper(new YAMLFactory())
            .readerFor(JsonNode.class)
            .readValues(Files.readString(rbac))) {
      while (docs.hasNext()) {
        JsonNode doc = (JsonNode) docs.next();
        String kind = doc.path("kind").asText();
        if (!kind.equals("ClusterRole") && !kind.equals("Role")) {
          continue;
        }
        for (JsonNode rule : doc.path("rules")) {
          for (JsonNode group : rule.path("apiGroups")) {
            for (JsonNode resource : rule.path("resources")) {
              for (JsonNode verb : rule.path("verbs")) {
                granted.add(group.asText() + " " + resource.asText() + " " + verb.asText());
              }
            }
          }
        }
      }
    }
    return granted;
  }
}
