package dev.baton.cli;

import dev.baton.control.Cluster;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code baton down}: stops the cluster's workers, gateway and supervisor. */
@Command(
    name = "down",
    mixinStandardHelpOptions = true,
    description = "Stop the cluster and every process it started.")
public final class DownCommand implements Callable<Integer> {

  @Option(names = "--name", description = "cluster name (default: 'default')")
  String name;

  @Override
  public Integer call() throws Exception {
    System.out.println(Cluster.down(name));
    return 0;
  }
}
