package dev.baton.cli;

import dev.baton.control.Cluster;
import dev.baton.control.StatusView;
import dev.baton.core.Json;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code baton status}: the running cluster's workers with health and load. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = "Show the cluster: role, group, worker, port, health, running/waiting, KV usage.")
public final class StatusCommand implements Callable<Integer> {

  @Option(names = "--name", description = "cluster name (default: 'default')")
  String name;

  @Option(names = "--json", description = "print JSON instead of a table")
  boolean json;

  @Override
  public Integer call() throws Exception {
    StatusView status = Cluster.status(name);
    System.out.print(json ? Json.write(status) + "\n" : status.render());
    return 0;
  }
}
