package dev.baton.operator;

import dev.baton.control.ClusterSpec;
import dev.baton.control.EngineType;
import dev.baton.control.Mode;
import dev.baton.control.WorkerIdentity;
import dev.baton.control.WorkerPlan;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Every object of a cluster except its worker pods (which {@link PodFactory} builds and the
 * reconciler manages one by one): the KV Secret, the gateway's config Secret, Deployment and
 * Service, the NetworkPolicy around the workers, and one PodGroup per replica-mode group.
 */
public final class ClusterObjects {

  private ClusterObjects() {}

  /** The cluster's secrets: the KV channel's shared secret and the gateway admin token. */
  public record Credentials(String kvSecret, String adminToken) {
    public static Credentials generate() {
      SecureRandom random = new SecureRandom();
      byte[] kv = new byte[32];
      byte[] admin = new byte[32];
      random.nextBytes(kv);
      random.nextBytes(admin);
      return new Credentials(HexFormat.of().formatHex(kv), HexFormat.of().formatHex(admin));
    }

    /** Reads them back from the cluster's Secret. */
    public static Credentials from(Secret secret) {
      Map<String, String> data = secret.getData();
      return new Credentials(
          decode(data.get(PodFactory.KV_SECRET_KEY)), decode(data.get(ADMIN_TOKEN_KEY)));
    }

    private static String decode(String base64) {
      return base64 == null
          ? null
          : new String(
              java.util.Base64.getDecoder().decode(base64),
              java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  static final String ADMIN_TOKEN_KEY = "admin-token";
  static final String GATEWAY_CONFIG_KEY = "gateway.yaml";
  static final String GATEWAY_CONFIG_DIR = "/etc/baton";

  /** Everything but the worker pods, in the order to create them. */
  public static List<HasMetadata> build(ClusterDefinition def, Credentials credentials) {
    List<HasMetadata> objects = new ArrayList<>();
    objects.add(secret(def, credentials));
    objects.add(gatewayConfig(def, credentials));
    objects.add(networkPolicy(def));
    objects.addAll(podGroups(def));
    objects.add(gatewayDeployment(def));
    objects.add(gatewayService(def));
    return objects;
  }

  /** {@link #build} plus the pods of every desired worker: what {@code render} prints. */
  public static List<HasMetadata> render(ClusterDefinition def, Credentials credentials) {
    List<HasMetadata> objects = new ArrayList<>(build(def, credentials));
    for (WorkerIdentity worker : WorkerIdentity.desired(def.cluster())) {
      objects.add(PodFactory.pod(def, worker));
    }
    return objects;
  }

  public static int gatewayPort(ClusterSpec spec) {
    Integer port = spec.gateway().port();
    return port == null ? PodFactory.GATEWAY_PORT : port;
  }

  /** The URL clients use inside the cluster. */
  public static String gatewayUrl(String cluster, String namespace, ClusterSpec spec) {
    return "http://"
        + ObjectLabels.gatewayName(cluster)
        + "."
        + namespace
        + ".svc:"
        + gatewayPort(spec);
  }

  static Secret secret(ClusterDefinition def, Credentials credentials) {
    Map<String, String> data = new LinkedHashMap<>();
    data.put(PodFactory.KV_SECRET_KEY, credentials.kvSecret());
    data.put(ADMIN_TOKEN_KEY, credentials.adminToken());
    return new SecretBuilder()
        .withNewMetadata()
        .withName(ObjectLabels.secretName(def.name()))
        .withLabels(ObjectLabels.common(def.name(), "secret"))
        .endMetadata()
        .withType("Opaque")
        .withStringData(data)
        .build();
  }

  /** The gateway's config file (it holds the admin token, so a Secret, not a ConfigMap). */
  static Secret gatewayConfig(ClusterDefinition def, Credentials credentials) {
    ClusterSpec spec = PodFactory.forPods(def.cluster());
    String yaml = WorkerPlan.gatewayConfig(spec, gatewayPort(spec), credentials.adminToken());
    return new SecretBuilder()
        .withNewMetadata()
        .withName(ObjectLabels.gatewayConfigName(def.name()))
        .withLabels(ObjectLabels.common(def.name(), Labels.GATEWAY_COMPONENT))
        .endMetadata()
        .withType("Opaque")
        .withStringData(Map.of(GATEWAY_CONFIG_KEY, yaml))
        .build();
  }

  static Deployment gatewayDeployment(ClusterDefinition def) {
    ClusterSpec spec = PodFactory.forPods(def.cluster());
    KubernetesSettings k8s = def.kubernetes();
    int port = gatewayPort(spec);
    WorkerPlan.Launch launch =
        WorkerPlan.gateway(
            spec,
            PodFactory.IMAGE_TOOLCHAIN,
            Path.of(GATEWAY_CONFIG_DIR, GATEWAY_CONFIG_KEY),
            port,
            Path.of(PodFactory.RUN_DIR));
    Map<String, String> labels = ObjectLabels.common(def.name(), Labels.GATEWAY_COMPONENT);
    return new DeploymentBuilder()
        .withNewMetadata()
        .withName(ObjectLabels.gatewayName(def.name()))
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withReplicas(1)
        .withNewSelector()
        .withMatchLabels(ObjectLabels.gatewaySelector(def.name()))
        .endSelector()
        .withNewTemplate()
        .withNewMetadata()
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withSecurityContext(ObjectLabels.podSecurity())
        .addNewContainer()
        .withName("gateway")
        .withImage(k8s.image())
        .withImagePullPolicy(k8s.imagePullPolicy())
        .withCommand(launch.command())
        .addNewPort()
        .withName("http")
        .withContainerPort(port)
        .endPort()
        .withReadinessProbe(PodFactory.httpProbe(port, 2, 1))
        .withLivenessProbe(PodFactory.httpProbe(port, 5, 3))
        .withResources(PodFactory.resources(k8s.gateway()))
        .withSecurityContext(ObjectLabels.containerSecurity())
        .withVolumeMounts(
            PodFactory.mount("config", GATEWAY_CONFIG_DIR, true),
            PodFactory.mount("run", PodFactory.RUN_DIR, false))
        .endContainer()
        .addNewVolume()
        .withName("config")
        .withNewSecret()
        .withSecretName(ObjectLabels.gatewayConfigName(def.name()))
        .withDefaultMode(0440)
        .endSecret()
        .endVolume()
        .addNewVolume()
        .withName("run")
        .withNewEmptyDir()
        .endEmptyDir()
        .endVolume()
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  static Service gatewayService(ClusterDefinition def) {
    int port = gatewayPort(def.cluster());
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(ObjectLabels.gatewayName(def.name()))
        .withLabels(ObjectLabels.common(def.name(), Labels.GATEWAY_COMPONENT))
        .endMetadata()
        .withNewSpec()
        .withType(def.kubernetes().gatewayServiceType())
        .withSelector(ObjectLabels.gatewaySelector(def.name()))
        .addNewPort()
        .withName("http")
        .withPort(port)
        .withTargetPort(new IntOrString(port))
        .endPort()
        .endSpec()
        .build();
  }

  /**
   * Only the cluster's own workers reach the KV ports (Baton's block server, vLLM's side channel,
   * SGLang's bootstrap server); worker HTTP (and SGLang bootstrap, and KV event) ports admit the
   * gateway and the operator (health, metrics, drain checks). Nothing else gets in.
   */
  static NetworkPolicy networkPolicy(ClusterDefinition def) {
    ClusterSpec spec = def.cluster();
    NetworkPolicyBuilder policy =
        new NetworkPolicyBuilder()
            .withNewMetadata()
            .withName(def.name() + "-workers")
            .withLabels(ObjectLabels.common(def.name(), "network-policy"))
            .endMetadata()
            .withNewSpec()
            .withNewPodSelector()
            .withMatchLabels(ObjectLabels.workerSelector(def.name()))
            .endPodSelector()
            .withPolicyTypes("Ingress")
            .endSpec();
    // worker to worker: Baton's KV port, vLLM's NIXL side channel, SGLang's bootstrap server
    TreeSet<Integer> peerPorts = new TreeSet<>();
    for (Map.Entry<Role, ClusterSpec.RoleSpec> e : spec.roles().entrySet()) {
      EngineType engine = e.getValue().engine();
      if (engine == EngineType.BATON && spec.kvTransfer().enabled()) {
        peerPorts.add(PodFactory.KV_PORT);
      } else if (engine == EngineType.VLLM) {
        peerPorts.add(PodFactory.SIDE_CHANNEL_PORT);
      } else if (engine == EngineType.SGLANG && e.getKey() == Role.PREFILL) {
        peerPorts.add(PodFactory.BOOTSTRAP_PORT);
      }
    }
    if (!peerPorts.isEmpty()) {
      policy
          .editSpec()
          .addNewIngress()
          .withFrom(
              new NetworkPolicyPeerBuilder()
                  .withNewPodSelector()
                  .withMatchLabels(ObjectLabels.workerSelector(def.name()))
                  .endPodSelector()
                  .build())
          .withPorts(peerPorts.stream().map(ClusterObjects::tcp).toList())
          .endIngress()
          .endSpec();
    }
    List<NetworkPolicyPort> httpPorts = new ArrayList<>();
    TreeSet<Integer> ports = new TreeSet<>();
    for (Role role : spec.roles().keySet()) {
      ports.add(PodFactory.port(spec, role));
      if (role == Role.PREFILL && spec.roles().get(role).engine() == EngineType.SGLANG) {
        ports.add(PodFactory.BOOTSTRAP_PORT);
      }
      if (PodFactory.publishesKvEvents(spec, role)) {
        ports.add(PodFactory.KV_EVENTS_PORT);
        ports.add(PodFactory.KV_EVENTS_REPLAY_PORT);
      }
    }
    ports.forEach(p -> httpPorts.add(tcp(p)));
    policy
        .editSpec()
        .addNewIngress()
        .withFrom(
            new NetworkPolicyPeerBuilder()
                .withNewPodSelector()
                .withMatchLabels(ObjectLabels.gatewaySelector(def.name()))
                .endPodSelector()
                .build(),
            new NetworkPolicyPeerBuilder()
                .withNewNamespaceSelector()
                .endNamespaceSelector()
                .withNewPodSelector()
                .withMatchLabels(Map.of(Labels.NAME, Labels.OPERATOR))
                .endPodSelector()
                .build())
        .withPorts(httpPorts)
        .endIngress()
        .endSpec();
    return policy.build();
  }

  private static NetworkPolicyPort tcp(int port) {
    return new NetworkPolicyPortBuilder()
        .withProtocol("TCP")
        .withPort(new IntOrString(port))
        .build();
  }

  /** One PodGroup per replica-mode group, when a gang scheduler is configured. */
  static List<GenericKubernetesResource> podGroups(ClusterDefinition def) {
    ClusterSpec spec = def.cluster();
    if (spec.mode() != Mode.REPLICA || !def.kubernetes().gangScheduling()) {
      return List.of();
    }
    List<GenericKubernetesResource> groups = new ArrayList<>();
    for (int g = 0; g < spec.groups().replicas(); g++) {
      groups.add(podGroup(def, WorkerIdentity.groupName(g)));
    }
    return groups;
  }

  /** The group's size: every prefill and decode worker of one group. */
  static int groupSize(ClusterSpec spec) {
    int size = 0;
    for (Map.Entry<Role, ClusterSpec.RoleSpec> e : spec.roles().entrySet()) {
      if (e.getKey() != Role.BOTH) {
        size += e.getValue().replicas();
      }
    }
    return size;
  }

  static GenericKubernetesResource podGroup(ClusterDefinition def, String group) {
    boolean volcano = "volcano".equals(def.kubernetes().podGroups());
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("minMember", groupSize(def.cluster()));
    if (!volcano) {
      spec.put(
          "scheduleTimeoutSeconds",
          (int) Math.ceil(def.cluster().supervision().readyTimeoutSeconds()));
    }
    Map<String, String> labels = ObjectLabels.common(def.name(), "pod-group");
    labels.put(Labels.GROUP, group);
    return new GenericKubernetesResourceBuilder()
        .withApiVersion(volcano ? VOLCANO_API : COSCHEDULING_API)
        .withKind("PodGroup")
        .withNewMetadata()
        .withName(ObjectLabels.podGroupName(def.name(), group))
        .withLabels(labels)
        .endMetadata()
        .withAdditionalProperties(Map.of("spec", spec))
        .build();
  }

  static final String COSCHEDULING_API = "scheduling.x-k8s.io/v1alpha1";
  static final String VOLCANO_API = "scheduling.volcano.sh/v1beta1";

  /** A pod's worker, read back from its labels. */
  static WorkerIdentity workerOf(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return WorkerIdentity.parse(
        labels.get(Labels.WORKER), Role.parse(labels.get(Labels.ROLE)), labels.get(Labels.GROUP));
  }
}
