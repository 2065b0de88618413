package dev.baton.cli;

import dev.baton.control.Cluster;
import dev.baton.core.Role;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton scale}: sets a pool's replicas (pool mode, or the colocated pool) or the number of
 * xPyD groups (replica mode), and returns once the cluster has that size. Scale-in drains.
 */
@Command(
    name = "scale",
    mixinStandardHelpOptions = true,
    description = "Scale a role (pool mode) or the groups (replica mode); scale-in drains workers.")
public final class ScaleCommand implements Callable<Integer> {

  @Option(names = "--name", description = "cluster name (default: 'default')")
  String name;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Target target;

  static final class Target {
    @ArgGroup(exclusive = false)
    RoleTarget role;

    @Option(
        names = "--groups",
        paramLabel = "N",
        description = "number of xPyD groups (replica mode)")
    Integer groups;
  }

  static final class RoleTarget {
    @Option(names = "--role", required = true, description = "prefill, decode or both")
    String role;

    @Option(
        names = "--replicas",
        required = true,
        paramLabel = "N",
        description = "workers of that role")
    int replicas;
  }

  @Override
  public Integer call() throws Exception {
    String message =
        target.groups != null
            ? Cluster.scaleGroups(name, target.groups)
            : Cluster.scaleRole(name, Role.parse(target.role.role), target.role.replicas);
    System.out.println(message);
    return 0;
  }
}
