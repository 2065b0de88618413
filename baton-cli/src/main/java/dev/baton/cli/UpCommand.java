package dev.baton.cli;

import dev.baton.control.Cluster;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton up}: validates a cluster spec and runs it (gateway + workers, supervised in the
 * background); on a running cluster of the same name it rolls the changes in.
 */
@Command(
    name = "up",
    mixinStandardHelpOptions = true,
    description = {
      "Start a cluster from a spec (docs/CLUSTER_SPEC.md) and return once it serves;",
      "run again with a changed spec to roll the workers one at a time."
    })
public final class UpCommand implements Callable<Integer> {

  @Option(
      names = {"-f", "--file"},
      paramLabel = "FILE",
      defaultValue = "cluster.yaml",
      description = "cluster spec (default: ./cluster.yaml)")
  Path file;

  @Option(names = "--name", description = "cluster name (default: the spec's name, else 'default')")
  String name;

  @Option(names = "--foreground", description = "stay attached; Ctrl-C stops the cluster")
  boolean foreground;

  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "cluster spec "
              + file
              + " not found (pass -f FILE; examples/ holds samples such as examples/minimal.yaml)");
    }
    PrintStream out = System.out;
    Cluster.UpResult result =
        Cluster.up(
            Files.readString(file),
            file.toString(),
            name,
            foreground,
            out,
            (spec, model) -> ClusterPreflight.check(spec, model, file.toString()));
    if (!foreground) {
      if (!result.message().startsWith("cluster")) {
        out.println(result.message());
      }
      out.println("  try:    curl " + result.gatewayUrl() + "/v1/models");
      out.println("  status: baton status" + (nameFlag(result.name())));
      out.println("  stop:   baton down" + (nameFlag(result.name())));
    }
    return 0;
  }

  static String nameFlag(String name) {
    return name.equals("default") ? "" : " --name " + name;
  }
}
