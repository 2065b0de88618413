package dev.baton.operator;

import dev.baton.control.ClusterSpec;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a worker pod finds the model: a file on the volume the spec names (a PVC), a URL that an
 * init container downloads once into the shared model volume, or a random model an init container
 * creates. Neither {@code render} nor the operator reads the model itself.
 *
 * @param kind how the file gets there
 * @param path the file inside the pod
 * @param mountPath where the model volume is mounted
 * @param source the URL, random preset or spec path it comes from
 */
record ModelSource(Kind kind, String path, String mountPath, String source) {

  enum Kind {
    /** A path inside the pod (on the PVC, or baked into the image). */
    FILE,
    /** {@code http(s)://}: downloaded by an init container. */
    URL,
    /** {@code random:<preset>}: created by an init container running {@code baton model}. */
    RANDOM
  }

  static ModelSource of(ClusterDefinition def) {
    ClusterSpec spec = def.cluster();
    String mount = def.kubernetes().modelMountPath();
    String model = spec.model();
    if (spec.randomPreset() != null) {
      return new ModelSource(
          Kind.RANDOM, mount + "/random-" + spec.randomPreset() + ".gguf", mount, model);
    }
    if (model.startsWith("http://") || model.startsWith("https://")) {
      String file = URI.create(model).getPath();
      String name = file.substring(file.lastIndexOf('/') + 1);
      return new ModelSource(
          Kind.URL, mount + "/" + (name.isEmpty() ? "model.gguf" : name), mount, model);
    }
    String path =
        model.startsWith("/") || def.kubernetes().modelClaim() == null
            ? model
            : mount + "/" + model;
    return new ModelSource(Kind.FILE, path, mount, model);
  }

  /** Workers only read the model; init containers write it. */
  boolean readOnlyInWorker() {
    return true;
  }

  Volume volume(KubernetesSettings k8s) {
    VolumeBuilder volume = new VolumeBuilder().withName("models");
    if (k8s.modelClaim() != null) {
      return volume.withNewPersistentVolumeClaim(k8s.modelClaim(), kind == Kind.FILE).build();
    }
    return volume.withNewEmptyDir().endEmptyDir().build();
  }

  /** What fills the model volume before the worker starts; skipped when the file is there. */
  List<Container> initContainers(KubernetesSettings k8s) {
    List<String> command = new ArrayList<>(List.of("sh", "-c"));
    String image;
    switch (kind) {
      case FILE -> {
        return List.of();
      }
      case URL -> {
        image = k8s.downloadImage();
        command.add(
            "test -s \"$0\" || { curl -fL --retry 5 -o \"$0.part\" \"$1\" && mv \"$0.part\" \"$0\"; }");
        command.add(path);
        command.add(source);
      }
      case RANDOM -> {
        image = k8s.image();
        command.add("test -s \"$0\" || { \"$@\" --out \"$0.part\" && mv \"$0.part\" \"$0\"; }");
        command.add(path);
        command.addAll(PodFactory.IMAGE_TOOLCHAIN.baton());
        command.addAll(
            List.of("model", "random", "--preset", source.substring(source.indexOf(':') + 1)));
      }
      default -> throw new IllegalStateException(kind.toString());
    }
    return List.of(
        new ContainerBuilder()
            .withName("model")
            .withImage(image)
            .withImagePullPolicy(k8s.imagePullPolicy())
            .withCommand(command)
            .withVolumeMounts(PodFactory.mount("models", mountPath, false))
            .withSecurityContext(ObjectLabels.containerSecurity())
            .build());
  }
}
