package dev.baton.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.baton.control.SpecException;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code baton operator crd} and {@code render} print: the CRD, and every object a cluster
 * file turns into, as one multi-document YAML stream (for review or a GitOps repository).
 */
public final class Manifests {

  private Manifests() {}

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  /** The CRD as YAML. */
  public static String crd() {
    return Serialization.asYaml(CrdFactory.crd());
  }

  /**
   * Reads a cluster file: either a {@code BatonCluster} manifest, or a plain {@code baton up} spec
   * (then {@code name} comes from its {@code name} key, else {@code fallbackName}).
   */
  public static ClusterDefinition read(Path file, String fallbackName) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new SpecException(file.toString(), List.of("file not found"));
    }
    JsonNode root;
    try {
      root = YAML.readTree(Files.readString(file));
    } catch (IOException e) {
      throw new SpecException(file.toString(), List.of("not valid YAML: " + e.getMessage()));
    }
    if (root != null && "BatonCluster".equals(root.path("kind").asText())) {
      String name = root.path("metadata").path("name").asText(fallbackName);
      return ClusterDefinition.parse(name, root.get("spec"));
    }
    String name = root == null ? fallbackName : root.path("name").asText(fallbackName);
    return ClusterDefinition.parse(name, root);
  }

  /** Every object of the cluster in {@code namespace}, with fresh credentials in its Secret. */
  public static String render(ClusterDefinition def, String namespace) {
    StringBuilder out = new StringBuilder();
    for (HasMetadata object : ClusterObjects.render(def, ClusterObjects.Credentials.generate())) {
      object.getMetadata().setNamespace(namespace);
      String yaml = Serialization.asYaml(object);
      out.append(yaml.startsWith("---") ? yaml : "---\n" + yaml);
      if (!yaml.endsWith("\n")) {
        out.append('\n');
      }
    }
    return out.toString();
  }
}
