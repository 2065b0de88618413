package dev.baton.control;

import dev.baton.core.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * One worker the cluster should have, named as {@code baton up} names it ({@code g0-decode-1} in a
 * replica group, {@code decode-1} in a pool). The identity is what a {@link LaunchBackend} is asked
 * to run; the backend turns it into a process or a pod.
 *
 * @param group {@code g<N>} in replica mode, {@code null} for pool workers
 */
public record WorkerIdentity(String id, Role role, String group, int index) {

  /** Every worker {@code spec} asks for: groups g0..gN-1 (xPyD each), then the pools. */
  public static List<WorkerIdentity> desired(ClusterSpec spec) {
    int groups = spec.groups() == null ? 0 : spec.groups().replicas();
    return desired(spec, groups, role -> spec.roles().get(role).replicas());
  }

  /**
   * Every worker of {@code spec}'s roles at the given counts (a supervisor's scaled sizes): {@code
   * groups} xPyD groups in replica mode, {@code poolSize} workers of every pool role.
   */
  public static List<WorkerIdentity> desired(
      ClusterSpec spec, int groups, ToIntFunction<Role> poolSize) {
    List<WorkerIdentity> workers = new ArrayList<>();
    for (Role role : spec.roles().keySet()) {
      if (spec.mode() == Mode.REPLICA && role != Role.BOTH) {
        for (int g = 0; g < groups; g++) {
          for (int i = 0; i < spec.roles().get(role).replicas(); i++) {
            workers.add(of(role, groupName(g), i));
          }
        }
      } else {
        for (int i = 0; i < poolSize.applyAsInt(role); i++) {
          workers.add(of(role, null, i));
        }
      }
    }
    return workers;
  }

  public static WorkerIdentity of(Role role, String group, int index) {
    String id = (group == null ? "" : group + "-") + role.wireName() + "-" + index;
    return new WorkerIdentity(id, role, group, index);
  }

  /**
   * The identity behind an id ({@code g1-decode-0}, {@code both-2}), as a backend reads it back.
   */
  public static WorkerIdentity parse(String id, Role role, String group) {
    return new WorkerIdentity(
        id, role, group, Integer.parseInt(id.substring(id.lastIndexOf('-') + 1)));
  }

  public static String groupName(int g) {
    return "g" + g;
  }

  /** The group's number ({@code g3} is 3); newer groups have larger ones. */
  public static int groupNumber(String group) {
    return Integer.parseInt(group.substring(1));
  }
}
