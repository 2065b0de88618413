package dev.baton.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.baton.control.ClusterSpec;
import dev.baton.control.EngineType;
import dev.baton.control.Mode;
import dev.baton.core.Role;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.ValidationRuleBuilder;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The OpenAPI v3 schema of a {@code BatonCluster}'s {@code spec}, generated from the control
 * plane's {@link ClusterSpec} records (their component names are the spec's keys), so the CRD and
 * {@code baton up} describe one spec. Free-form maps (extra gateway or KV settings) keep unknown
 * fields; enums list their wire names; counts, ports and durations carry their bounds.
 */
public final class SpecSchema {

  private SpecSchema() {}

  private static final String MIN_LE_MAX =
      "!has(self.min) || !has(self.max) || self.min <= self.max";

  /** The whole {@code spec}: the cluster spec, {@code replicas} and {@code kubernetes}. */
  public static JSONSchemaProps spec() {
    JSONSchemaProps cluster = record(ClusterSpec.class);
    cluster
        .getProperties()
        .put(
            "replicas",
            new JSONSchemaPropsBuilder()
                .withType("integer")
                .withMinimum(0.0)
                .withDescription(
                    "the scale subresource's count: groups in replica mode, else the decode pool"
                        + " (or the colocated pool without decode)")
                .build());
    cluster.getProperties().put("kubernetes", kubernetes());
    cluster.setRequired(List.of("model", "roles"));
    cluster.setDescription(
        "the baton up cluster spec (docs/CLUSTER_SPEC.md) plus replicas and kubernetes");
    return cluster;
  }

  private static JSONSchemaProps record(Class<?> type) {
    Map<String, JSONSchemaProps> properties = new LinkedHashMap<>();
    for (RecordComponent c : type.getRecordComponents()) {
      properties.put(c.getName(), property(c.getName(), c.getGenericType()));
    }
    JSONSchemaPropsBuilder schema =
        new JSONSchemaPropsBuilder().withType("object").withProperties(properties);
    if (properties.containsKey("min") && properties.containsKey("max")) {
      schema.withXKubernetesValidations(
          new ValidationRuleBuilder()
              .withRule(MIN_LE_MAX)
              .withMessage("min must not exceed max")
              .build());
    }
    return schema.build();
  }

  private static JSONSchemaProps property(String name, Type type) {
    if (type instanceof ParameterizedType p) {
      Class<?> raw = (Class<?>) p.getRawType();
      Type[] args = p.getActualTypeArguments();
      if (raw == List.class) {
        // list items may be numbers too (flags like "16"), and command may be one string
        return new JSONSchemaPropsBuilder().withXKubernetesPreserveUnknownFields(true).build();
      }
      if (raw == Map.class && args[0] == Role.class) {
        Map<String, JSONSchemaProps> roles = new LinkedHashMap<>();
        for (Role role : Role.values()) {
          roles.put(role.wireName(), property(role.wireName(), args[1]));
        }
        return new JSONSchemaPropsBuilder().withType("object").withProperties(roles).build();
      }
      if (raw == Map.class && args[1] == String.class) {
        return stringMap();
      }
      return new JSONSchemaPropsBuilder()
          .withType("object")
          .withXKubernetesPreserveUnknownFields(true)
          .build();
    }
    Class<?> c = (Class<?>) type;
    if (c.isRecord()) {
      return record(c);
    }
    if (c == Mode.class) {
      return enumOf(Arrays.stream(Mode.values()).map(Mode::wireName).toList());
    }
    if (c == EngineType.class) {
      return enumOf(Arrays.stream(EngineType.values()).map(EngineType::wireName).toList());
    }
    if (c == String.class) {
      return new JSONSchemaPropsBuilder().withType("string").build();
    }
    if (c == boolean.class || c == Boolean.class) {
      return new JSONSchemaPropsBuilder().withType("boolean").build();
    }
    boolean whole = c == int.class || c == Integer.class;
    JSONSchemaPropsBuilder number =
        new JSONSchemaPropsBuilder().withType(whole ? "integer" : "number");
    if (name.equals("port")) {
      number.withMinimum(1.0).withMaximum(65535.0);
    } else if (name.equals("failureThreshold")) {
      number.withMinimum(1.0);
    } else if (name.equals("kvUsage") || name.equals("tolerance")) {
      number.withMinimum(0.0).withMaximum(1.0);
    } else {
      number.withMinimum(0.0);
    }
    return number.build();
  }

  private static JSONSchemaProps enumOf(List<String> values) {
    return new JSONSchemaPropsBuilder()
        .withType("string")
        .withEnum(values.stream().map(v -> (JsonNode) TextNode.valueOf(v)).toList())
        .build();
  }

  /** The {@code kubernetes} section ({@link KubernetesSettings}). */
  private static JSONSchemaProps kubernetes() {
    JSONSchemaProps text = new JSONSchemaPropsBuilder().withType("string").build();
    JSONSchemaProps quantities = stringMap();
    Map<String, JSONSchemaProps> resources = new LinkedHashMap<>();
    for (String role : List.of("prefill", "decode", "both", "gateway")) {
      resources.put(role, quantities);
    }
    Map<String, JSONSchemaProps> properties = new LinkedHashMap<>();
    properties.put("image", text);
    properties.put("imagePullPolicy", enumOf(List.of("Always", "IfNotPresent", "Never")));
    properties.put("podGroups", enumOf(List.of("none", "coscheduling", "volcano")));
    properties.put("schedulerName", text);
    properties.put(
        "modelVolume",
        new JSONSchemaPropsBuilder()
            .withType("object")
            .addToProperties("claimName", text)
            .addToProperties("mountPath", text)
            .build());
    properties.put("downloadImage", text);
    properties.put(
        "resources",
        new JSONSchemaPropsBuilder().withType("object").withProperties(resources).build());
    properties.put("gatewayServiceType", enumOf(List.of("ClusterIP", "NodePort", "LoadBalancer")));
    return new JSONSchemaPropsBuilder()
        .withType("object")
        .withProperties(properties)
        .withDescription("pod settings: image, resources per role, model volume, gang scheduling")
        .build();
  }

  /** A mapping of texts (numbers allowed: {@code nvidia.com/gpu: 1}). */
  private static JSONSchemaProps stringMap() {
    return new JSONSchemaPropsBuilder()
        .withType("object")
        .withNewAdditionalProperties()
        .withNewSchema()
        .withXKubernetesIntOrString(true)
        .endSchema()
        .endAdditionalProperties()
        .build();
  }
}
