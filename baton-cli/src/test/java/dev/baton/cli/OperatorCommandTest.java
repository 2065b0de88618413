package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code baton operator crd|render} through the real CLI entry point. */
class OperatorCommandTest {

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
      int code = Main.run(args);
      return new Result(
          code, stdout.toString(StandardCharsets.UTF_8), stderr.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  static List<JsonNode> docs(String yaml) throws Exception {
    List<JsonNode> docs = new ArrayList<>();
    try (var it = new ObjectMapper(new YAMLFactory()).readerFor(JsonNode.class).readValues(yaml)) {
      while (it.hasNext()) {
        JsonNode doc = (JsonNode) it.next();
        if (doc != null && !doc.isEmpty()) {
          docs.add(doc);
        }
      }
    }
    return docs;
  }

  @Test
  void crdPrintsTheCustomResourceDefinition() throws Exception {
    Result r = run("operator", "crd");
    assertThat(r.code()).isZero();
    assertThat(docs(r.out()).get(0).at("/metadata/name").asText())
        .isEqualTo("batonclusters.baton.dev");
  }

  @Test
  void renderPrintsEveryObjectOfAnExampleSpec() throws Exception {
    Result r =
        run("operator", "render", "-f", "../examples/replica-xpyd.yaml", "--namespace", "llm");
    assertThat(r.code()).isZero();
    List<JsonNode> docs = docs(r.out());
    assertThat(docs)
        .extracting(d -> d.path("kind").asText())
        .contains("Secret", "Deployment", "Service", "NetworkPolicy", "Pod");
    assertThat(docs)
        .allSatisfy(d -> assertThat(d.at("/metadata/namespace").asText()).isEqualTo("llm"));
  }

  @Test
  void aBadSpecFailsWithTheProblemNamedAndPrintsNothing() {
    Result r = run("operator", "render", "-f", "../examples/does-not-exist.yaml");
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("file not found");
    assertThat(r.out()).isEmpty();
  }
}
