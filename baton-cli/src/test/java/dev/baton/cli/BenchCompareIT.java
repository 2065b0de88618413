package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code baton bench compare} against real clusters: the control plane starts a gateway and {@code
 * baton serve} workers on a random tiny model for each spec, the benchmark runs, the cluster goes
 * down, and one side-by-side report comes out.
 */
class BenchCompareIT {

  @TempDir static Path dir;
  private static String previousHome;

  @BeforeAll
  static void isolatedHome() {
    previousHome = System.getProperty("baton.home");
    System.setProperty("baton.home", dir.resolve("home").toString());
  }

  @AfterAll
  static void restoreHome() {
    if (previousHome == null) {
      System.clearProperty("baton.home");
    } else {
      System.setProperty("baton.home", previousHome);
    }
  }

  @Test
  void comparesTwoClustersAndTearsThemDown() throws Exception {
    Path one =
        Files.writeString(
            dir.resolve("one.yaml"),
            """
        model: random:tiny
        mode: pool
        kvTransfer: {connector: none}
        roles:
          both: {replicas: 1}
        """);
    Path broken =
        Files.writeString(
            dir.resolve("broken.yaml"),
            """
        model: no-such-model.gguf
        mode: pool
        kvTransfer: {connector: none}
        roles:
          both: {replicas: 1}
        """);
    Path report = dir.resolve("report");
    int code =
        Main.run(
            "bench",
            "compare",
            "-f",
            one.toString(),
            "-f",
            broken.toString(),
            "--num-prompts",
            "4",
            "--random-input-len",
            "8",
            "--random-output-len",
            "4",
            "--no-progress",
            "--save-result",
            "--result-dir",
            dir.resolve("results").toString(),
            "--report",
            report.toString());
    assertThat(code).isEqualTo(1); // one cluster could not start
    JsonNode json = Json.parse(Files.readString(report.resolve("compare.json")));
    assertThat(json.path("clusters")).hasSize(1);
    JsonNode run = json.path("clusters").path(0).path("runs").path(0);
    assertThat(json.path("clusters").path(0).path("label").asText()).isEqualTo("one");
    assertThat(run.path("completed").asInt()).isEqualTo(4);
    assertThat(run.path("mean_ttft_ms").asDouble()).isPositive();
    // prompt tokens counted with the cluster's model (its GGUF tokenizer)
    assertThat(run.path("tokenizer_id").asText()).isEqualTo("gguf:random-tiny.gguf");
    assertThat(json.path("not_run").path(0).asText()).contains("broken");
    assertThat(Files.readString(report.resolve("report.md"))).contains("| one |", "## Not run");
    assertThat(Files.exists(report.resolve("ttft_cdf.png"))).isTrue();
    try (var files = Files.list(dir.resolve("results"))) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .singleElement()
          .satisfies(name -> assertThat(name).startsWith("one-openai-infqps-"));
    }
    // torn down: no cluster state is left behind
    assertThat(dev.baton.control.Cluster.down("bench-one")).contains("no cluster");
  }
}
