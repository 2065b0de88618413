package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two operator replicas with leader election against the mock API server: only the Lease holder
 * creates anything; when it stops, the other takes the Lease over and reconciles.
 */
@EnableKubernetesMockClient(crud = true)
class LeaderElectionTest {

  static KubernetesClient client;
  static KubernetesMockServer server;

  private static final String NS = "le";
  private static final String LEASE_NS = "baton-system";

  private static KubernetesClient clientFor(String agent) {
    return new KubernetesClientBuilder()
        .withConfig(new ConfigBuilder(client.getConfiguration()).withUserAgent(agent).build())
        .build();
  }

  /**
   * A lease long enough that the leader keeps it on a loaded machine; the take-over below does not
   * wait for it to expire because a shutting-down leader releases it.
   */
  private static final Leadership.Timing TIMING =
      new Leadership.Timing(Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofMillis(300));

  private static Leadership replica(KubernetesClient c, String identity) {
    return Leadership.start(
        c,
        LEASE_NS,
        identity,
        TIMING,
        () -> OperatorMain.start(c, new GatewayRegistry(), null),
        () -> {});
  }

  private static String holder() {
    Lease lease = client.leases().inNamespace(LEASE_NS).withName(OperatorMain.LEASE).get();
    return lease == null ? null : lease.getSpec().getHolderIdentity();
  }

  private static int workers(String cluster) {
    return client
        .pods()
        .inNamespace(NS)
        .withLabels(ObjectLabels.workerSelector(cluster))
        .list()
        .getItems()
        .size();
  }

  /** Agents that created pods, from the requests the mock server recorded. */
  private static Set<String> podCreators() throws InterruptedException {
    Set<String> agents = new HashSet<>();
    RecordedRequest r;
    while ((r = server.takeRequest(100, TimeUnit.MILLISECONDS)) != null) {
      if ("POST".equals(r.getMethod()) && r.getPath().endsWith("/pods")) {
        agents.add(r.getHeader("User-Agent"));
      }
    }
    return agents;
  }

  @Test
  void onlyTheLeaseHolderReconcilesAndAFollowerTakesOver() throws Exception {
    client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .resource(CrdFactory.crd())
        .createOr(c -> c.update());
    KubernetesClient clientA = clientFor("replica-a");
    KubernetesClient clientB = clientFor("replica-b");
    Leadership a = replica(clientA, "replica-a");
    Leadership b = null;
    try {
      await().atMost(Duration.ofSeconds(20)).until(() -> "replica-a".equals(holder()));
      b = replica(clientB, "replica-b");

      BatonCluster cluster = new BatonCluster();
      cluster.setMetadata(new ObjectMetaBuilder().withName("led").withNamespace(NS).build());
      cluster.setSpec(
          new ObjectMapper(new YAMLFactory()).readTree(BatonClusterReconcilerTest.REPLICA));
      client.resource(cluster).create();
      await().atMost(Duration.ofSeconds(20)).until(() -> workers("led") == 6);
      assertThat(podCreators()).containsExactly("replica-a");
      assertThat(holder()).isEqualTo("replica-a");

      a.close(); // the leader shuts down and releases the Lease; the follower takes it at once
      a = null;
      await().atMost(Duration.ofSeconds(30)).until(() -> "replica-b".equals(holder()));
      client.resources(BatonCluster.class).inNamespace(NS).withName("led").scale(3);
      await().atMost(Duration.ofSeconds(30)).until(() -> workers("led") == 9);
      assertThat(podCreators()).containsExactly("replica-b");
    } finally {
      if (a != null) {
        a.close();
      }
      if (b != null) {
        b.close();
      }
      clientA.close();
      clientB.close();
    }
  }
}
