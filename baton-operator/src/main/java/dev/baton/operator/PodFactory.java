package dev.baton.operator;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.control.ClusterSpec;
import dev.baton.control.ClusterSpec.KvTransferSpec;
import dev.baton.control.EngineType;
import dev.baton.control.Toolchain;
import dev.baton.control.WorkerIdentity;
import dev.baton.control.WorkerPlan;
import dev.baton.core.Json;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a worker's pod from the cluster spec. The command line comes from the control plane's
 * {@link WorkerPlan} (the same flags {@code baton up} would run), adapted to a pod: bind {@code
 * 0.0.0.0}, advertise the pod IP for KV pulls, a fixed KV port the NetworkPolicy can name, the KV
 * secret from a mounted Secret. The pod's revision is a hash of its spec: a changed model, image,
 * flag or resource gives a new revision, which the reconciler rolls.
 */
public final class PodFactory {

  /** The KV block server's port in every Baton worker (the NetworkPolicy opens only it). */
  public static final int KV_PORT = 7600;

  /** An SGLang prefill worker's bootstrap server port. */
  public static final int BOOTSTRAP_PORT = 8998;

  /** A vLLM worker's NIXL side channel ({@code VLLM_NIXL_SIDE_CHANNEL_PORT}): one per pod IP. */
  public static final int SIDE_CHANNEL_PORT = 5600;

  /**
   * A Baton worker's KV event PUB and replay sockets (vLLM's default ports), fixed in pods so that
   * the NetworkPolicy can open them to the gateway alone: the events carry prompt tokens.
   */
  public static final int KV_EVENTS_PORT = 5557;

  public static final int KV_EVENTS_REPLAY_PORT = 5558;

  public static final int GATEWAY_PORT = 8000;
  public static final int UID = 10001;
  static final String SECRET_DIR = "/var/run/baton";
  static final String KV_SECRET_KEY = "kv-secret";
  static final String RUN_DIR = "/tmp/baton";

  /** How the image runs the Baton CLI (deploy/Dockerfile puts the jars in /opt/baton/lib). */
  public static final Toolchain IMAGE_TOOLCHAIN =
      new Toolchain(
          "java",
          List.of(
              "--add-modules",
              "jdk.incubator.vector",
              "--enable-native-access=ALL-UNNAMED",
              "-XX:+UseParallelGC",
              "-Xss4m"),
          "/opt/baton/lib/*");

  private PodFactory() {}

  /** The worker HTTP port of a role: the spec's fixed base port, else one per role. */
  public static int port(ClusterSpec spec, Role role) {
    Integer fixed = spec.roles().get(role).port();
    if (fixed != null) {
      return fixed;
    }
    return switch (role) {
      case PREFILL -> 8100;
      case DECODE -> 8200;
      case BOTH -> 8300;
    };
  }

  /** The worker's pod, named {@code <cluster>-<worker>-<revision>}. */
  public static Pod pod(ClusterDefinition def, WorkerIdentity worker) {
    PodSpec podSpec = podSpec(def, worker);
    String revision = revision(podSpec);
    Map<String, String> labels = ObjectLabels.worker(def.name(), worker, revision);
    Map<String, String> annotations = new LinkedHashMap<>();
    if (worker.group() != null && def.kubernetes().gangScheduling()) {
      String podGroup = ObjectLabels.podGroupName(def.name(), worker.group());
      labels.put(Labels.COSCHEDULING_GROUP, podGroup);
      annotations.put(Labels.VOLCANO_GROUP, podGroup);
    }
    return new PodBuilder()
        .withNewMetadata()
        .withName(def.name() + "-" + worker.id() + "-" + revision)
        .withLabels(labels)
        .withAnnotations(annotations)
        .endMetadata()
        .withSpec(podSpec)
        .build();
  }

  /** A short hash of the pod spec: equal specs, equal revisions. */
  public static String revision(PodSpec spec) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(Json.write(spec).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 5);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static PodSpec podSpec(ClusterDefinition def, WorkerIdentity worker) {
    ClusterSpec spec = forPods(def.cluster());
    KubernetesSettings k8s = def.kubernetes();
    Role role = worker.role();
    int port = port(spec, role);
    boolean bootstrap =
        role == Role.PREFILL && spec.roles().get(role).engine() == EngineType.SGLANG;
    WorkerPlan.Launch launch =
        WorkerPlan.worker(
            spec,
            IMAGE_TOOLCHAIN,
            ModelSource.of(def).path(),
            role,
            worker.group(),
            worker.id(),
            port,
            bootstrap ? BOOTSTRAP_PORT : 0,
            Path.of(SECRET_DIR, KV_SECRET_KEY),
            "$(BATON_KV_SECRET)",
            Path.of(RUN_DIR));
    List<EnvVar> env = new ArrayList<>();
    env.add(fieldEnv("POD_IP", "status.podIP"));
    env.add(
        new EnvVarBuilder()
            .withName("BATON_KV_SECRET")
            .withNewValueFrom()
            .withNewSecretKeyRef(KV_SECRET_KEY, ObjectLabels.secretName(def.name()), false)
            .endValueFrom()
            .build());
    Map<String, String> launchEnv = new java.util.TreeMap<>(launch.env());
    EngineType engine = spec.roles().get(role).engine();
    if (engine == EngineType.VLLM) {
      // vLLM puts this host into remote_host: in a pod only the pod IP can work (the kubelet
      // expands $(POD_IP) from the variable above), whatever a local spec set it to
      launchEnv.put("VLLM_NIXL_SIDE_CHANNEL_HOST", "$(POD_IP)");
      launchEnv.putIfAbsent("VLLM_NIXL_SIDE_CHANNEL_PORT", Integer.toString(SIDE_CHANNEL_PORT));
    }
    launchEnv.forEach((k, v) -> env.add(new EnvVar(k, v, null)));
    List<VolumeMount> mounts = new ArrayList<>();
    mounts.add(mount("kv-secret", SECRET_DIR, true));
    mounts.add(mount("run", RUN_DIR, false));
    ModelSource model = ModelSource.of(def);
    mounts.add(mount("models", model.mountPath(), model.readOnlyInWorker()));
    var supervision = spec.supervision();
    int period = (int) Math.max(1, Math.ceil(supervision.healthIntervalSeconds()));
    ContainerBuilder container =
        new ContainerBuilder()
            .withName("worker")
            .withImage(k8s.image())
            .withImagePullPolicy(k8s.imagePullPolicy())
            .withCommand(withFixedEventPorts(launch.command()))
            .withEnv(env)
            .withVolumeMounts(mounts)
            .addNewPort()
            .withName("http")
            .withContainerPort(port)
            .endPort()
            .withReadinessProbe(httpProbe(port, period, 1))
            .withLivenessProbe(httpProbe(port, period, supervision.failureThreshold()))
            .withStartupProbe(
                httpProbe(
                    port, period, (int) Math.ceil(supervision.readyTimeoutSeconds() / period)))
            .withNewLifecycle()
            .withNewPreStop()
            .withNewExec()
            .withCommand(drainCommand(port, supervision.drainTimeoutSeconds()))
            .endExec()
            .endPreStop()
            .endLifecycle()
            .withResources(resources(k8s.resources().get(role)))
            .withSecurityContext(ObjectLabels.containerSecurity());
    if (spec.kvTransfer().enabled() && engine == EngineType.BATON) {
      container.addNewPort().withName("kv").withContainerPort(KV_PORT).endPort();
    }
    if (publishesKvEvents(spec, role)) {
      container.addNewPort().withName("kv-events").withContainerPort(KV_EVENTS_PORT).endPort();
      container
          .addNewPort()
          .withName("kv-events-replay")
          .withContainerPort(KV_EVENTS_REPLAY_PORT)
          .endPort();
    }
    if (engine == EngineType.VLLM) {
      container
          .addNewPort()
          .withName("side-channel")
          .withContainerPort(SIDE_CHANNEL_PORT)
          .endPort();
    }
    if (bootstrap) {
      container.addNewPort().withName("bootstrap").withContainerPort(BOOTSTRAP_PORT).endPort();
    }
    List<Container> init = model.initContainers(k8s);
    return new PodSpecBuilder()
        .withRestartPolicy("Never")
        .withSchedulerName(k8s.schedulerName())
        .withTerminationGracePeriodSeconds((long) Math.ceil(supervision.drainTimeoutSeconds()) + 10)
        .withSecurityContext(ObjectLabels.podSecurity())
        .withInitContainers(init)
        .withContainers(container.build())
        .withVolumes(volumes(def, model))
        .build();
  }

  /** Whether a role's pods publish KV events ({@code engine.kvEvents}; Baton workers only). */
  static boolean publishesKvEvents(ClusterSpec spec, Role role) {
    return spec.engine().kvEvents() && spec.roles().get(role).engine() == EngineType.BATON;
  }

  /** The worker command with the KV event sockets on the fixed pod ports instead of picked ones. */
  private static List<String> withFixedEventPorts(List<String> command) {
    List<String> pod = new ArrayList<>(command);
    int at = pod.indexOf("--kv-events-config");
    if (at >= 0) {
      pod.set(
          at + 1,
          WorkerPlan.kvEventsConfig(
              "0.0.0.0",
              Integer.toString(KV_EVENTS_PORT),
              Integer.toString(KV_EVENTS_REPLAY_PORT)));
    }
    return pod;
  }

  /**
   * The spec as pods run it: bind every address, advertise the pod IP to KV peers, a fixed KV port,
   * and peers {@code *} (pod IPs are not known in advance; the NetworkPolicy and the KV secret's
   * MACs guard the channel, and the gateway drops client {@code kv_transfer_params}). A spec that
   * sets these keys itself keeps its values.
   */
  static ClusterSpec forPods(ClusterSpec spec) {
    KvTransferSpec kv = spec.kvTransfer();
    ObjectNode config = Json.MAPPER.valueToTree(kv.config());
    for (ObjectNode extra : peerToPeerConfigs(kv.connector(), config)) {
      if (!extra.has("advertise_host")) {
        extra.put("advertise_host", "$(POD_IP)");
      }
      if (!extra.has("port")) {
        extra.put("port", KV_PORT);
      }
      if (!extra.has("peers")) {
        extra.putArray("peers").add("*");
      }
      if (!extra.has("host")) {
        extra.put("host", "0.0.0.0");
      }
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> merged = Json.MAPPER.convertValue(config, Map.class);
    return new ClusterSpec(
        spec.name(),
        spec.model(),
        spec.mode(),
        "0.0.0.0",
        spec.engine(),
        new KvTransferSpec(kv.connector(), merged, kv.cache()),
        spec.gateway(),
        spec.groups(),
        spec.roles(),
        spec.autoscaler(),
        spec.supervision(),
        spec.cpuPinning());
  }

  /**
   * The extra configs that configure a peer-to-peer block server, as {@link WorkerPlan} picks them:
   * a MultiConnector's parts other than the OffloadConnector, else the connector's own unless it is
   * the OffloadConnector (which has no block server).
   */
  private static List<ObjectNode> peerToPeerConfigs(String connector, ObjectNode config) {
    List<ObjectNode> out = new ArrayList<>();
    if ("MultiConnector".equals(connector)) {
      if (config.path("kv_connector_extra_config").path("connectors") instanceof ArrayNode parts) {
        for (var part : parts) {
          if (part instanceof ObjectNode p && !OFFLOAD.equals(p.path("kv_connector").asText())) {
            out.add(extraConfig(p));
          }
        }
      }
    } else if (!OFFLOAD.equals(connector) && !"none".equals(connector)) {
      out.add(extraConfig(config));
    }
    return out;
  }

  private static final String OFFLOAD = "OffloadConnector";

  private static ObjectNode extraConfig(ObjectNode node) {
    return node.get("kv_connector_extra_config") instanceof ObjectNode existing
        ? existing
        : node.putObject("kv_connector_extra_config");
  }

  /** {@code baton operator drain}: waits in preStop until no request and no KV lease is left. */
  static List<String> drainCommand(int port, double timeoutSeconds) {
    List<String> command = new ArrayList<>(IMAGE_TOOLCHAIN.baton());
    command.addAll(
        List.of(
            "operator",
            "drain",
            "--url",
            "http://127.0.0.1:" + port,
            "--timeout-seconds",
            Long.toString((long) Math.ceil(timeoutSeconds))));
    return command;
  }

  static io.fabric8.kubernetes.api.model.ResourceRequirements resources(Map<String, String> r) {
    Map<String, Quantity> quantities = new LinkedHashMap<>();
    r.forEach((name, value) -> quantities.put(name, new Quantity(value)));
    return new ResourceRequirementsBuilder()
        .withRequests(quantities)
        .withLimits(quantities)
        .build();
  }

  private static List<Volume> volumes(ClusterDefinition def, ModelSource model) {
    List<Volume> volumes = new ArrayList<>();
    volumes.add(
        new VolumeBuilder()
            .withName("kv-secret")
            .withNewSecret()
            .withSecretName(ObjectLabels.secretName(def.name()))
            .addNewItem(KV_SECRET_KEY, 0440, KV_SECRET_KEY)
            .withDefaultMode(0440)
            .endSecret()
            .build());
    volumes.add(new VolumeBuilder().withName("run").withNewEmptyDir().endEmptyDir().build());
    volumes.add(model.volume(def.kubernetes()));
    return volumes;
  }

  static VolumeMount mount(String name, String path, boolean readOnly) {
    return new VolumeMountBuilder()
        .withName(name)
        .withMountPath(path)
        .withReadOnly(readOnly)
        .build();
  }

  static EnvVar fieldEnv(String name, String fieldPath) {
    return new EnvVarBuilder()
        .withName(name)
        .withNewValueFrom()
        .withNewFieldRef()
        .withFieldPath(fieldPath)
        .endFieldRef()
        .endValueFrom()
        .build();
  }

  static Probe httpProbe(int port, int periodSeconds, int failureThreshold) {
    return new ProbeBuilder()
        .withNewHttpGet()
        .withPath("/health")
        .withNewPort(port)
        .endHttpGet()
        .withPeriodSeconds(periodSeconds)
        .withFailureThreshold(Math.max(1, failureThreshold))
        .build();
  }
}
