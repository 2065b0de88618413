package dev.baton.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;

/**
 * Starts the operator on the Java Operator SDK: one controller for {@code BatonCluster} ({@link
 * BatonClusterReconciler}, which also watches the pods it made), either at once or, with leader
 * election ({@link Leadership}), only while this replica holds the leader Lease.
 */
public final class OperatorMain {

  /** The Lease the operator replicas compete for. */
  public static final String LEASE = "baton-operator-leader";

  private OperatorMain() {}

  /**
   * Runs until the JVM is stopped; {@code namespace} null watches every namespace. {@code
   * leaseNamespace} non-null turns leader election on: the Lease lives there, the identity is the
   * pod's name ({@code HOSTNAME}), and a replica that loses the Lease exits.
   */
  public static void run(String namespace, String leaseNamespace) throws InterruptedException {
    KubernetesClient client = new KubernetesClientBuilder().build();
    AutoCloseable running;
    if (leaseNamespace == null) {
      running = start(client, new GatewayRegistry(), namespace)::stop;
    } else {
      String identity = System.getenv("HOSTNAME");
      running =
          Leadership.start(
              client,
              leaseNamespace,
              identity == null ? UUID.randomUUID().toString() : identity,
              Leadership.Timing.STANDARD,
              () -> start(client, new GatewayRegistry(), namespace),
              () -> System.exit(1));
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    running.close();
                  } catch (Exception e) {
                    // shutting down anyway
                  }
                }));
    new CountDownLatch(1).await();
  }

  /** Registers the controller and starts it (tests call this with a mock server's client). */
  public static Operator start(
      KubernetesClient client, GatewayRegistry gateways, String namespace) {
    Operator operator =
        new Operator(
            o ->
                o.withKubernetesClient(client)
                    .withCloseClientOnStop(false)
                    .withUseSSAToPatchPrimaryResource(false)
                    .withSSABasedCreateUpdateMatchForDependentResources(false));
    operator.register(
        new BatonClusterReconciler(client, gateways),
        c -> {
          if (namespace != null) {
            c.settingNamespace(namespace);
          }
        });
    operator.start();
    return operator;
  }
}
