package dev.baton.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.control.SpecException;
import dev.baton.control.WorkerIdentity;
import dev.baton.control.WorkerReconciler;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.operator.ClusterObjects.Credentials;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.logging.Logger;

/**
 * Reconciles a {@code BatonCluster}: validates its spec (a refused spec gets a {@code SpecValid}
 * False condition saying why and nothing is created), applies the Secret, gateway, NetworkPolicy
 * and PodGroups, runs the control plane's {@link WorkerReconciler} on the worker pods through the
 * Kubernetes backend ({@link PodBackend}: gangs, drain-first scale-in and rolling update), keeps
 * the gateway's worker list in step, and writes the status. Every object carries an owner
 * reference; the finalizer ({@link #cleanup}) deletes them too, so a deleted cluster leaves nothing
 * even where garbage collection lags.
 */
public final class BatonClusterReconciler
    implements Reconciler<BatonCluster>, Cleaner<BatonCluster> {

  private static final Logger LOG = Logger.getLogger(BatonClusterReconciler.class.getName());

  /** How often a cluster is looked at without events (gateway sync, readiness). */
  static final Duration RESYNC = Duration.ofSeconds(10);

  private final KubernetesClient client;
  private final GatewayRegistry gateways;
  private final SecureRandom random = new SecureRandom();
  private final ClusterAutoscaler autoscaler = new ClusterAutoscaler();

  public BatonClusterReconciler(KubernetesClient client, GatewayRegistry gateways) {
    this.client = client;
    this.gateways = gateways;
  }

  @Override
  public UpdateControl<BatonCluster> reconcile(
      BatonCluster cluster, Context<BatonCluster> context) {
    String namespace = cluster.getMetadata().getNamespace();
    String name = cluster.getMetadata().getName();
    BatonClusterStatus status = new BatonClusterStatus();
    BatonClusterStatus previous = cluster.getStatus();
    status.setObservedGeneration(cluster.getMetadata().getGeneration());
    ClusterDefinition def;
    try {
      def = ClusterDefinition.parse(name, cluster.getSpec());
    } catch (SpecException e) {
      LOG.warning(e.getMessage());
      status.setPhase("Failed");
      status.setConditions(
          List.of(
              condition(
                  previous,
                  "SpecValid",
                  false,
                  "InvalidSpec",
                  String.join("; ", e.problems()),
                  cluster)));
      cluster.setStatus(status);
      return UpdateControl.patchStatus(cluster);
    }
    Credentials credentials = credentials(namespace, name);
    for (HasMetadata object : ClusterObjects.build(def, credentials)) {
      apply(cluster, object);
    }
    removeStalePodGroups(cluster, def);

    String gatewayUrl = ClusterObjects.gatewayUrl(name, namespace, def.cluster());
    PodBackend pods =
        new PodBackend(
            client,
            def,
            namespace,
            owner(cluster),
            this::suffix,
            // the gateway stops routing first; the pod's preStop hook then waits out in-flight work
            worker -> gateways.remove(name, gatewayUrl, credentials.adminToken(), worker));
    List<WorkerIdentity> desired = WorkerIdentity.desired(def.cluster());
    WorkerReconciler.Plan plan = WorkerReconciler.reconcile(def.cluster().mode(), desired, pods);
    plan.reasons().forEach(r -> LOG.info(name + ": " + r));
    pods.observe();
    List<Pod> live = pods.pods();
    List<Pod> serving =
        live.stream()
            .filter(p -> !plan.drains(p.getMetadata().getName()))
            .filter(PodBackend::isReady)
            .toList();
    gateways.sync(
        name,
        gatewayUrl,
        credentials.adminToken(),
        readyGatewayPod(namespace, name),
        serving.stream().map(p -> PodBackend.workerInfo(def, p)).toList());
    cluster.setStatus(status(cluster, def, desired, pods, live, serving, plan, gatewayUrl));
    Map<String, Integer> scaled =
        autoscaler.decide(namespace + "/" + name, def, serving, Instant.now());
    if (!scaled.isEmpty()) {
      writeCounts(cluster, def, scaled);
    }
    Duration next = RESYNC;
    if (!ClusterAutoscaler.autoscaled(def.cluster()).isEmpty()) {
      long interval = (long) (def.cluster().autoscaler().intervalSeconds() * 1000);
      next = Duration.ofMillis(Math.max(200, Math.min(RESYNC.toMillis(), interval)));
    }
    return UpdateControl.patchStatus(cluster).rescheduleAfter(next);
  }

  /**
   * Pods the operator made trigger a reconcile of their cluster (owner reference) on any change.
   */
  @Override
  public List<EventSource<?, BatonCluster>> prepareEventSources(
      EventSourceContext<BatonCluster> context) {
    InformerEventSourceConfiguration<Pod> pods =
        InformerEventSourceConfiguration.from(Pod.class, BatonCluster.class)
            .withLabelSelector(Labels.MANAGED_BY + "=" + Labels.OPERATOR)
            .build();
    return List.of(new InformerEventSource<>(pods, context));
  }

  /**
   * Writes the autoscaler's counts into the spec: {@code spec.replicas} when it drives that unit
   * (the scale subresource's field), else {@code groups.replicas} or {@code roles.<role>.replicas}.
   */
  private void writeCounts(
      BatonCluster cluster, ClusterDefinition def, Map<String, Integer> counts) {
    JsonNode current = cluster.getSpec();
    ObjectNode patch = Json.object();
    ObjectNode spec = patch.putObject("spec");
    counts.forEach(
        (unit, count) -> {
          boolean groups = unit.equals("groups");
          if (current.has("replicas") && (groups || Role.parse(unit) == def.scaledRole())) {
            spec.put("replicas", count);
          } else if (groups && !current.path("groups").isObject()) {
            spec.put("groups", count);
          } else if (groups) {
            spec.putObject("groups").put("replicas", count);
          } else {
            ObjectNode roles =
                spec.has("roles") ? (ObjectNode) spec.get("roles") : spec.putObject("roles");
            roles.putObject(unit).put("replicas", count);
          }
        });
    // a merge patch: only these counts change, and no read is needed (RBAC: patch only)
    client
        .resources(BatonCluster.class)
        .inNamespace(cluster.getMetadata().getNamespace())
        .withName(cluster.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE), Json.write(patch));
  }

  @Override
  public DeleteControl cleanup(BatonCluster cluster, Context<BatonCluster> context) {
    String namespace = cluster.getMetadata().getNamespace();
    String name = cluster.getMetadata().getName();
    Map<String, String> selector = Map.of(Labels.CLUSTER, name, Labels.MANAGED_BY, Labels.OPERATOR);
    client.pods().inNamespace(namespace).withLabels(selector).delete();
    client.apps().deployments().inNamespace(namespace).withLabels(selector).delete();
    client.services().inNamespace(namespace).withLabels(selector).delete();
    client.network().v1().networkPolicies().inNamespace(namespace).withLabels(selector).delete();
    client.secrets().inNamespace(namespace).withLabels(selector).delete();
    for (String api : List.of(ClusterObjects.COSCHEDULING_API, ClusterObjects.VOLCANO_API)) {
      try {
        podGroups(api).inNamespace(namespace).withLabels(selector).delete();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e; // 404: that scheduler's CRD is not installed
        }
      }
    }
    gateways.forget(name);
    autoscaler.forget(namespace + "/" + name);
    return DeleteControl.defaultDelete();
  }

  private Credentials credentials(String namespace, String name) {
    Secret secret =
        client.secrets().inNamespace(namespace).withName(ObjectLabels.secretName(name)).get();
    if (secret != null && secret.getData() != null) {
      Credentials existing = Credentials.from(secret);
      if (existing.kvSecret() != null && existing.adminToken() != null) {
        return existing;
      }
    }
    return Credentials.generate();
  }

  private void apply(BatonCluster cluster, HasMetadata object) {
    object.getMetadata().setNamespace(cluster.getMetadata().getNamespace());
    object.getMetadata().setOwnerReferences(List.of(owner(cluster)));
    if (object instanceof GenericKubernetesResource podGroup) {
      podGroups(podGroup.getApiVersion())
          .inNamespace(cluster.getMetadata().getNamespace())
          .resource(podGroup)
          .createOr(NonDeletingOperation::update);
      return;
    }
    client.resource(object).createOr(NonDeletingOperation::update);
  }

  private void removeStalePodGroups(BatonCluster cluster, ClusterDefinition def) {
    if (!def.kubernetes().gangScheduling()) {
      return;
    }
    String api =
        "volcano".equals(def.kubernetes().podGroups())
            ? ClusterObjects.VOLCANO_API
            : ClusterObjects.COSCHEDULING_API;
    List<String> wanted =
        ClusterObjects.podGroups(def).stream().map(g -> g.getMetadata().getName()).toList();
    for (GenericKubernetesResource group :
        podGroups(api)
            .inNamespace(cluster.getMetadata().getNamespace())
            .withLabel(Labels.CLUSTER, def.name())
            .list()
            .getItems()) {
      if (!wanted.contains(group.getMetadata().getName())) {
        podGroups(api).inNamespace(cluster.getMetadata().getNamespace()).resource(group).delete();
      }
    }
  }

  private io.fabric8.kubernetes.client.dsl.MixedOperation<
          GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          io.fabric8.kubernetes.client.dsl.Resource<GenericKubernetesResource>>
      podGroups(String apiVersion) {
    String group = apiVersion.substring(0, apiVersion.indexOf('/'));
    String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
    return client.genericKubernetesResources(
        new ResourceDefinitionContext.Builder()
            .withGroup(group)
            .withVersion(version)
            .withKind("PodGroup")
            .withPlural("podgroups")
            .withNamespaced(true)
            .build());
  }

  private String readyGatewayPod(String namespace, String name) {
    return client
        .pods()
        .inNamespace(namespace)
        .withLabels(ObjectLabels.gatewaySelector(name))
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null && PodBackend.isReady(p))
        .map(p -> p.getMetadata().getUid())
        .findFirst()
        .orElse(null);
  }

  private BatonClusterStatus status(
      BatonCluster cluster,
      ClusterDefinition def,
      List<WorkerIdentity> desired,
      PodBackend pods,
      List<Pod> live,
      List<Pod> serving,
      WorkerReconciler.Plan plan,
      String gatewayUrl) {
    BatonClusterStatus previous = cluster.getStatus();
    BatonClusterStatus status = new BatonClusterStatus();
    status.setObservedGeneration(cluster.getMetadata().getGeneration());
    status.setGatewayUrl(gatewayUrl);
    status.setReplicas(def.scaleReplicas());
    status.setSelector(
        Labels.CLUSTER + "=" + def.name() + "," + Labels.COMPONENT + "=" + Labels.WORKER_COMPONENT);
    Map<String, Integer> readyByRole = new LinkedHashMap<>();
    Map<String, Integer> wanted = new LinkedHashMap<>();
    for (Role role : Role.values()) {
      readyByRole.put(role.wireName(), 0);
    }
    Map<String, Integer> groups = new java.util.TreeMap<>();
    Map<String, String> revisions = new LinkedHashMap<>();
    for (WorkerIdentity w : desired) {
      wanted.merge(w.role().wireName(), 1, Integer::sum);
      revisions.put(w.id(), pods.revision(w));
    }
    for (Pod pod : serving) {
      WorkerIdentity w = ClusterObjects.workerOf(pod);
      readyByRole.merge(w.role().wireName(), 1, Integer::sum);
      if (w.group() != null) {
        groups.merge(w.group(), 1, Integer::sum);
      }
    }
    status.setReadyWorkers(readyByRole);
    status.setDesiredWorkers(wanted);
    status.setReadyGroups(groups);
    long current =
        serving.stream()
            .filter(
                p ->
                    Objects.equals(
                        revisions.get(ClusterObjects.workerOf(p).id()),
                        p.getMetadata().getLabels().get(Labels.REVISION)))
            .map(p -> ClusterObjects.workerOf(p).id())
            .distinct()
            .count();
    boolean ready = current == desired.size() && live.size() == desired.size();
    boolean progressing = !plan.idle() || !ready;
    status.setPhase(ready ? "Running" : serving.isEmpty() ? "Pending" : "Progressing");
    List<Condition> conditions = new ArrayList<>();
    conditions.add(condition(previous, "SpecValid", true, "Valid", "the spec is valid", cluster));
    conditions.add(
        condition(
            previous,
            "Ready",
            ready,
            ready ? "AllWorkersReady" : "WorkersNotReady",
            current + " of " + desired.size() + " workers ready at the current revision",
            cluster));
    conditions.add(
        condition(
            previous,
            "Progressing",
            progressing,
            progressing ? "Reconciling" : "Stable",
            plan.reasons().isEmpty() ? "nothing to change" : String.join("; ", plan.reasons()),
            cluster));
    status.setConditions(conditions);
    return status;
  }

  /** A condition; its transition time stays while its status does not change. */
  private static Condition condition(
      BatonClusterStatus previous,
      String type,
      boolean value,
      String reason,
      String message,
      BatonCluster cluster) {
    String text = value ? "True" : "False";
    Condition before = previous == null ? null : previous.condition(type);
    String since =
        before != null && text.equals(before.getStatus())
            ? before.getLastTransitionTime()
            : Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    return new ConditionBuilder()
        .withType(type)
        .withStatus(text)
        .withReason(reason)
        .withMessage(message.length() > 2000 ? message.substring(0, 2000) : message)
        .withLastTransitionTime(since)
        .withObservedGeneration(cluster.getMetadata().getGeneration())
        .build();
  }

  private static OwnerReference owner(BatonCluster cluster) {
    return new OwnerReferenceBuilder()
        .withApiVersion(cluster.getApiVersion())
        .withKind(cluster.getKind())
        .withName(cluster.getMetadata().getName())
        .withUid(cluster.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  private static boolean sameName(Pod a, Pod b) {
    return a.getMetadata().getName().equals(b.getMetadata().getName());
  }

  private String suffix() {
    byte[] bytes = new byte[3];
    random.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes).substring(0, 5);
  }
}
