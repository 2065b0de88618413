package dev.baton.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import java.util.concurrent.CountDownLatch;

/**
 * Starts the operator on the Java Operator SDK: one controller for {@code BatonCluster} ({@link
 * BatonClusterReconciler}, which also watches the pods it made).
 */
public final class OperatorMain {

  private OperatorMain() {}

  /** Runs until the JVM is stopped; {@code namespace} null watches every namespace. */
  public static void run(String namespace) throws InterruptedException {
    KubernetesClient client = new KubernetesClientBuilder().build();
    Operator operator = start(client, new GatewayRegistry(), namespace);
    Runtime.getRuntime().addShutdownHook(new Thread(operator::stop));
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
