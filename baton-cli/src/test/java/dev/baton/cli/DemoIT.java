package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code baton demo --json FILE} end to end: a real cluster (1P1D pool and two colocated workers on
 * a random model), the walkthrough and the mixed-load comparison; the summary file holds both
 * routes with vLLM's key names and nothing failed.
 */
class DemoIT {

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
  void writesTheColocatedAndDisaggregatedSummary() throws Exception {
    Path summary = dir.resolve("out/demo.json");
    int code = Main.run("demo", "--name", "demo-it", "--json", summary.toString());
    assertThat(code).isZero();
    JsonNode json = Json.parse(Files.readString(summary));
    assertThat(json.size()).isEqualTo(2);
    for (String route : List.of("colocated", "disaggregated")) {
      JsonNode r = json.get(route);
      assertThat(r).as(route).isNotNull();
      assertThat(r.get("completed").asInt()).as(route).isEqualTo(12);
      assertThat(r.get("failed").asInt()).as(route).isZero();
      for (String key :
          List.of(
              "mean_ttft_ms",
              "median_ttft_ms",
              "p99_ttft_ms",
              "p99_tpot_ms",
              "median_itl_ms",
              "p99_itl_ms",
              "request_goodput",
              "output_throughput")) {
        assertThat(r.get(key)).as(route + " " + key).isNotNull();
        assertThat(r.get(key).asDouble()).as(route + " " + key).isNotNegative();
      }
      assertThat(r.get("p99_itl_ms").asDouble()).as(route).isPositive();
      assertThat(r.has("itls")).as("per-request arrays stay out of the summary").isFalse();
    }
  }
}
