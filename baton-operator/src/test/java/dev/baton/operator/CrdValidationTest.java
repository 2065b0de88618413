package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.cel.common.types.CelType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What the API server does with a {@code BatonCluster} on {@code kubectl apply}, done here with
 * real validators since no API server runs on these machines: the CRD's OpenAPI v3 schema checked
 * by a JSON Schema validator (draft 4, the dialect OpenAPI v3 schemas derive from) with unknown
 * fields refused as kubectl's strict field validation does, and every {@code
 * x-kubernetes-validations} rule and message expression compiled and evaluated by the CEL reference
 * implementation for Java, as the API server compiles them when the CRD is created and evaluates
 * them on each object.
 */
class CrdValidationTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final CelRuntime CEL_RUNTIME =
      CelRuntimeFactory.standardCelRuntimeBuilder().build();

  private static JsonNode specSchema;
  private static Schema validator;

  @BeforeAll
  static void readTheCrd() throws IOException {
    specSchema = CrdTest.specSchema(CrdTest.crd());
    JsonNode strict = strictCopy(specSchema);
    validator = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_4).getSchema(strict);
  }

  @Test
  void everyRuleAndMessageExpressionCompilesAsTheApiServerRequiresWhenTheCrdIsCreated() {
    List<JsonNode> rules = new ArrayList<>();
    collectRules(specSchema, rules);
    assertThat(rules).as("the CRD carries CEL rules").isNotEmpty();
    for (JsonNode rule : rules) {
      compile(rule.path("rule").asText(), SimpleType.BOOL);
      if (rule.has("messageExpression")) {
        compile(rule.path("messageExpression").asText(), SimpleType.STRING);
      }
      assertThat(rule.has("message") || rule.has("messageExpression"))
          .as("rule %s tells the user why", rule)
          .isTrue();
    }
  }

  @Test
  void theShippedSampleAndEveryExampleSpecAreAccepted() throws IOException {
    Map<String, JsonNode> specs = new LinkedHashMap<>();
    specs.put(
        "deploy/sample/batoncluster.yaml",
        YAML.readTree(Path.of("..", "deploy", "sample", "batoncluster.yaml").toFile())
            .path("spec"));
    try (Stream<Path> files = Files.list(Path.of("..", "examples"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        specs.put("examples/" + file.getFileName(), YAML.readTree(file.toFile()));
      }
    }
    assertThat(specs).hasSizeGreaterThan(3);
    specs.forEach((name, spec) -> assertThat(problems(spec)).as(name).isEmpty());
  }

  /** Each bad spec differs from a good one in one place; the answer names that place. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          no roles                     | /roles                          | ~                        | roles
          an unknown mode              | /mode                           | "hybrid"                 | mode
          a negative replica count     | /roles/decode/replicas          | -1                       | replicas
          a port above 65535           | /roles/decode/port              | 70000                    | port
          a misspelt key               | /roles/decode/replicaz          | 2                        | replicaz
          an unknown engine            | /roles/prefill/engine           | "tgi"                    | engine
          a tolerance above 1          | /autoscaler/tolerance           | 1.5                      | tolerance
          a replica count as text      | /roles/prefill/replicas         | "two"                    | replicas
          min above max on a role      | /roles/decode                   | {replicas: 1, min: 3, max: 2} | min must not exceed max
          min above max on the groups  | /groups                         | {replicas: 1, min: 4, max: 2} | min must not exceed max
          """)
  void aBadSpecIsRefusedWithAnErrorNamingWhatIsWrong(
      String what, String pointer, String yamlValue, String named) throws IOException {
    ObjectNode spec =
        (ObjectNode)
            YAML.readTree(
                """
                model: random:tiny
                mode: replica
                groups: {replicas: 1}
                autoscaler: {tolerance: 0.1}
                roles:
                  prefill: {replicas: 1, engine: baton}
                  decode: {replicas: 1, port: 9000}
                """);
    assertThat(problems(spec)).as("the unchanged spec is accepted").isEmpty();
    set(spec, pointer, YAML.readTree(yamlValue));
    assertThat(problems(spec)).as(what).isNotEmpty().anySatisfy(p -> assertThat(p).contains(named));
  }

  /** Schema errors, then CEL rule failures, as "path: message". */
  private static List<String> problems(JsonNode spec) {
    List<String> problems = new ArrayList<>();
    for (Error error : validator.validate(spec)) {
      problems.add(error.getInstanceLocation() + ": " + error.getMessage());
    }
    if (problems.isEmpty()) {
      evaluateRules(specSchema, spec, "spec", problems);
    }
    return problems;
  }

  private static void evaluateRules(
      JsonNode schema, JsonNode value, String path, List<String> problems) {
    if (value == null || value.isMissingNode() || value.isNull()) {
      return;
    }
    for (JsonNode rule : schema.path("x-kubernetes-validations")) {
      try {
        Object self = YAML.convertValue(value, Object.class);
        CelRuntime.Program program =
            CEL_RUNTIME.createProgram(compile(rule.path("rule").asText(), SimpleType.BOOL));
        if (!Boolean.TRUE.equals(program.eval(Map.of("self", celValue(self))))) {
          problems.add(path + ": " + rule.path("message").asText());
        }
      } catch (Exception e) {
        throw new AssertionError("rule " + rule + " failed on " + value, e);
      }
    }
    schema
        .path("properties")
        .properties()
        .forEach(
            e ->
                evaluateRules(
                    e.getValue(), value.get(e.getKey()), path + "." + e.getKey(), problems));
  }

  /** CEL's integers are 64-bit: JSON numbers without a fraction become longs. */
  private static Object celValue(Object value) {
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> converted = new LinkedHashMap<>();
      map.forEach((k, v) -> converted.put(String.valueOf(k), celValue(v)));
      return converted;
    }
    if (value instanceof List<?> list) {
      return list.stream().map(CrdValidationTest::celValue).toList();
    }
    if (value instanceof Integer i) {
      return i.longValue();
    }
    return value;
  }

  private static dev.cel.common.CelAbstractSyntaxTree compile(String expression, CelType type) {
    CelCompiler compiler =
        CelCompilerFactory.standardCelCompilerBuilder()
            .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
            .addVar("self", SimpleType.DYN)
            .setResultType(type)
            .build();
    try {
      return compiler.compile(expression).getAst();
    } catch (Exception e) {
      throw new AssertionError("CEL expression does not compile: " + expression, e);
    }
  }

  private static void collectRules(JsonNode schema, List<JsonNode> rules) {
    schema.path("x-kubernetes-validations").forEach(rules::add);
    schema.path("properties").properties().forEach(e -> collectRules(e.getValue(), rules));
    if (schema.has("items")) {
      collectRules(schema.get("items"), rules);
    }
    if (schema.path("additionalProperties").isObject()) {
      collectRules(schema.get("additionalProperties"), rules);
    }
  }

  /**
   * The schema with {@code additionalProperties: false} on every object that names its fields and
   * does not keep unknown ones: kubectl's default strict field validation refuses unknown fields
   * where the API server would otherwise prune them silently.
   */
  private static JsonNode strictCopy(JsonNode schema) {
    ObjectNode copy = schema.deepCopy();
    tighten(copy);
    return copy;
  }

  private static void tighten(ObjectNode schema) {
    if (schema.has("properties")
        && !schema.path("x-kubernetes-preserve-unknown-fields").asBoolean()
        && !schema.has("additionalProperties")) {
      schema.put("additionalProperties", false);
    }
    schema.path("properties").forEach(p -> tighten((ObjectNode) p));
    if (schema.path("items").isObject()) {
      tighten((ObjectNode) schema.get("items"));
    }
    if (schema.path("additionalProperties").isObject()) {
      tighten((ObjectNode) schema.get("additionalProperties"));
    }
  }

  private static void set(ObjectNode root, String pointer, JsonNode value) {
    int cut = pointer.lastIndexOf('/');
    ObjectNode parent = (ObjectNode) root.at(pointer.substring(0, cut));
    String field = pointer.substring(cut + 1);
    if (value.isNull()) {
      parent.remove(field);
    } else {
      parent.set(field, value);
    }
  }
}
