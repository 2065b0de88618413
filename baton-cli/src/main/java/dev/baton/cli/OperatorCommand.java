package dev.baton.cli;

import dev.baton.control.WorkerDrain;
import dev.baton.operator.ClusterDefinition;
import dev.baton.operator.Manifests;
import dev.baton.operator.OperatorMain;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton operator}: the Kubernetes side (docs/KUBERNETES.md) — run the operator, print the
 * {@code BatonCluster} CRD, render a cluster's objects, and the workers' preStop drain.
 */
@Command(
    name = "operator",
    mixinStandardHelpOptions = true,
    description = "Kubernetes: run the BatonCluster operator, print its CRD, render a cluster.",
    subcommands = {
      OperatorCommand.Run.class,
      OperatorCommand.Crd.class,
      OperatorCommand.Render.class,
      OperatorCommand.DrainWorker.class
    })
public final class OperatorCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getOut());
    return 2;
  }

  @Command(
      name = "crd",
      mixinStandardHelpOptions = true,
      description = "Print the BatonCluster CustomResourceDefinition (YAML).")
  static final class Crd implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      spec.commandLine().getOut().print(Manifests.crd());
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(
      name = "render",
      mixinStandardHelpOptions = true,
      description =
          "Print every object the operator would create for a cluster (a BatonCluster manifest"
              + " or a baton up spec), as YAML, for review and GitOps.")
  static final class Render implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = {"-f", "--file"},
        required = true,
        description = "cluster file")
    Path file;

    @Option(names = "--namespace", defaultValue = "default", description = "target namespace")
    String namespace;

    @Option(
        names = "--name",
        defaultValue = "default",
        description = "cluster name when the file names none")
    String name;

    @Override
    public Integer call() throws Exception {
      ClusterDefinition def = Manifests.read(file, name);
      spec.commandLine().getOut().print(Manifests.render(def, namespace));
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(
      name = "run",
      mixinStandardHelpOptions = true,
      description =
          "Run the operator: in a pod (service account) or from a kubeconfig (KUBECONFIG,"
              + " ~/.kube/config).")
  static final class Run implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = "--namespace",
        description = "watch only this namespace (default: every namespace)")
    String namespace;

    @Option(
        names = "--leader-election",
        description =
            "compete for a Lease so several operator replicas can run; only the holder reconciles")
    boolean leaderElection;

    @Option(
        names = "--lease-namespace",
        description =
            "the namespace of the leader Lease (default: $POD_NAMESPACE, the operator's own)")
    String leaseNamespace;

    @Override
    public Integer call() throws Exception {
      String lease = leaseNamespace != null ? leaseNamespace : System.getenv("POD_NAMESPACE");
      if (leaderElection && lease == null) {
        throw new picocli.CommandLine.ParameterException(
            spec.commandLine(),
            "--leader-election needs --lease-namespace (or POD_NAMESPACE from the downward API)");
      }
      OperatorMain.run(namespace, leaderElection ? lease : null);
      return 0;
    }
  }

  @Command(
      name = "drain",
      mixinStandardHelpOptions = true,
      description =
          "A worker pod's preStop hook: wait until the worker has no request running or waiting"
              + " and no live KV lease.")
  static final class DrainWorker implements Callable<Integer> {
    @Option(names = "--url", required = true, description = "the worker's base URL")
    String url;

    @Option(names = "--timeout-seconds", defaultValue = "60", description = "give up after this")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
      boolean idle =
          WorkerDrain.awaitIdle(
              url, Instant.now().plus(Duration.ofSeconds(timeoutSeconds)), () -> true);
      return idle ? 0 : 1;
    }
  }
}
