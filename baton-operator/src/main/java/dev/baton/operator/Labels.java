package dev.baton.operator;

/** Label and annotation keys the operator puts on what it creates, and selects by. */
public final class Labels {

  private Labels() {}

  public static final String CLUSTER = "baton.dev/cluster";
  public static final String ROLE = "baton.dev/role";
  public static final String GROUP = "baton.dev/group";
  public static final String WORKER = "baton.dev/worker";
  public static final String REVISION = "baton.dev/revision";

  /**
   * The gang a replica group's pod pairs in at the gateway (set when it differs from the group).
   */
  public static final String GANG = "baton.dev/gang";

  public static final String COMPONENT = "app.kubernetes.io/component";
  public static final String NAME = "app.kubernetes.io/name";
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String OPERATOR = "baton-operator";

  /** scheduler-plugins coscheduling reads this label; Volcano the annotation below. */
  public static final String COSCHEDULING_GROUP = "scheduling.x-k8s.io/pod-group";

  public static final String VOLCANO_GROUP = "scheduling.k8s.io/group-name";

  public static final String WORKER_COMPONENT = "worker";
  public static final String GATEWAY_COMPONENT = "gateway";
}
