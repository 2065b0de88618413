package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** {@code baton operator crd}: the CRD read back as YAML. */
class CrdTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  static JsonNode crd() throws IOException {
    return YAML.readTree(Manifests.crd());
  }

  static JsonNode specSchema(JsonNode crd) {
    return crd.at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
  }

  @Test
  void theCrdHasStatusAndAScaleSubresourceOnSpecReplicas() throws IOException {
    JsonNode crd = crd();
    assertThat(crd.path("kind").asText()).isEqualTo("CustomResourceDefinition");
    assertThat(crd.at("/metadata/name").asText()).isEqualTo("batonclusters.baton.dev");
    JsonNode version = crd.at("/spec/versions/0");
    assertThat(version.path("name").asText()).isEqualTo("v1alpha1");
    assertThat(version.at("/subresources/status").isObject()).isTrue();
    assertThat(version.at("/subresources/scale/specReplicasPath").asText())
        .isEqualTo(".spec.replicas");
    assertThat(version.at("/subresources/scale/statusReplicasPath").asText())
        .isEqualTo(".status.replicas");
    assertThat(version.at("/subresources/scale/labelSelectorPath").asText())
        .isEqualTo(".status.selector");
  }

  @Test
  void theSpecSchemaFollowsTheClusterSpecRecordsWithBoundsAndEnums() throws IOException {
    JsonNode spec = specSchema(crd());
    assertThat(spec.path("required"))
        .extracting(JsonNode::asText)
        .containsExactly("model", "roles");
    assertThat(spec.at("/properties/mode/enum"))
        .extracting(JsonNode::asText)
        .containsExactly("replica", "pool");
    JsonNode decode = spec.at("/properties/roles/properties/decode");
    assertThat(decode.at("/properties/replicas/type").asText()).isEqualTo("integer");
    assertThat(decode.at("/properties/replicas/minimum").asDouble()).isEqualTo(0.0);
    assertThat(decode.at("/properties/port/maximum").asDouble()).isEqualTo(65535.0);
    assertThat(decode.at("/properties/engine/enum"))
        .extracting(JsonNode::asText)
        .containsExactly("baton", "vllm", "sglang");
    assertThat(decode.at("/x-kubernetes-validations/0/rule").asText())
        .contains("self.min <= self.max");
    assertThat(spec.at("/properties/autoscaler/properties/tolerance/maximum").asDouble())
        .isEqualTo(1.0);
    assertThat(
            spec.at("/properties/gateway/properties/config/x-kubernetes-preserve-unknown-fields")
                .asBoolean())
        .isTrue();
    assertThat(spec.at("/properties/kubernetes/properties/podGroups/enum"))
        .extracting(JsonNode::asText)
        .containsExactly("none", "coscheduling", "volcano");
  }

  @Test
  void theSchemaIsStructuralEveryNodeHasAType() throws IOException {
    List<String> untyped = new ArrayList<>();
    walk(crd().at("/spec/versions/0/schema/openAPIV3Schema"), "", untyped);
    assertThat(untyped).isEmpty();
  }

  private static void walk(JsonNode schema, String path, List<String> untyped) {
    boolean free =
        schema.path("x-kubernetes-preserve-unknown-fields").asBoolean()
            || schema.path("x-kubernetes-int-or-string").asBoolean();
    if (!schema.has("type") && !free) {
      untyped.add(path);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it =
            schema.path("properties").properties().iterator();
        it.hasNext(); ) {
      var e = it.next();
      walk(e.getValue(), path + "." + e.getKey(), untyped);
    }
    if (schema.has("items")) {
      walk(schema.get("items"), path + "[]", untyped);
    }
    if (schema.path("additionalProperties").isObject()) {
      walk(schema.get("additionalProperties"), path + ".*", untyped);
    }
  }

  @Test
  void theCrdInTheKustomizeBaseIsTheGeneratedOne() throws IOException {
    JsonNode shipped = YAML.readTree(Path.of("..", "deploy", "base", "crd.yaml").toFile());
    assertThat(shipped)
        .as("deploy/base/crd.yaml is stale: regenerate with baton operator crd")
        .isEqualTo(crd());
  }

  /** Every key of the example specs (what baton up runs) is known to the CRD's schema. */
  @Test
  void everyKeyOfTheExampleSpecsIsInTheSchema() throws IOException {
    JsonNode spec = specSchema(crd());
    List<String> unknown = new ArrayList<>();
    Path examples = Path.of("..", "examples");
    try (Stream<Path> files = Files.list(examples)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).toList()) {
        keys(YAML.readTree(file.toFile()), spec, file.getFileName().toString(), unknown);
      }
    }
    assertThat(unknown).isEmpty();
  }

  private static void keys(JsonNode value, JsonNode schema, String path, List<String> unknown) {
    if (!value.isObject() || schema.path("x-kubernetes-preserve-unknown-fields").asBoolean()) {
      return;
    }
    for (var e : value.properties()) {
      JsonNode property = schema.path("properties").path(e.getKey());
      if (property.isMissingNode()) {
        if (schema.path("additionalProperties").isObject()) {
          continue;
        }
        unknown.add(path + "." + e.getKey());
      } else {
        keys(e.getValue(), property, path + "." + e.getKey(), unknown);
      }
    }
  }
}
