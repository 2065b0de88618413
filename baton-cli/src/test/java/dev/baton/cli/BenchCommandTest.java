package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.bench.StubServer;
import dev.baton.core.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code baton bench} from the command line against the scripted stub server. */
class BenchCommandTest {

  @Test
  void runWritesVllmStyleResultAndReport(@TempDir Path dir) throws Exception {
    try (StubServer server =
        StubServer.start(
            0, StubServer.Script.delays(Duration.ofMillis(5), Duration.ofMillis(2), 0))) {
      int code =
          Main.run(
              "bench",
              "--base-url",
              server.baseUrl(),
              "--num-prompts",
              "8",
              "--random-input-len",
              "12",
              "--random-output-len",
              "3",
              "--sweep",
              "50,inf",
              "--goodput",
              "ttft:1000",
              "tpot:1000",
              "--metric-percentiles",
              "50,99",
              "--save-result",
              "--result-dir",
              dir.toString(),
              "--result-filename",
              "r.json",
              "--report",
              dir.resolve("report").toString(),
              "--no-progress");
      assertThat(code).isZero();
      JsonNode inf = Json.parse(Files.readString(dir.resolve("r-rateinf.json")));
      assertThat(inf.path("completed").asInt()).isEqualTo(8);
      assertThat(inf.path("request_rate").asText()).isEqualTo("inf");
      assertThat(inf.path("model_id").asText()).isEqualTo("stub-model");
      assertThat(inf.path("request_goodput").asDouble()).isPositive();
      assertThat(inf.has("p50_ttft_ms")).isTrue();
      assertThat(inf.has("p99_itl_ms")).isTrue();
      assertThat(inf.path("output_lens").size()).isEqualTo(8);
      assertThat(Files.exists(dir.resolve("r-rate50.json"))).isTrue();
      try (Stream<Path> files = Files.list(dir.resolve("report"))) {
        assertThat(files.map(p -> p.getFileName().toString()).toList())
            .contains(
                "report.md",
                "ttft_cdf.png",
                "itl_cdf.png",
                "throughput_vs_rate.png",
                "goodput_vs_rate.png");
      }
      String md = Files.readString(dir.resolve("report/report.md"));
      assertThat(md).contains("| inf | 8 | 0 |");
    }
  }

  @Test
  void badOptionsFailWithAClearMessage() {
    assertThat(Main.run("bench", "--num-prompts", "3")).isEqualTo(1); // no --base-url
    assertThat(Main.run("bench", "--base-url", "http://127.0.0.1:1", "--goodput", "ttfx:3"))
        .isEqualTo(1);
    assertThat(Main.run("bench", "--base-url", "http://127.0.0.1:1", "--dataset-name", "nope"))
        .isEqualTo(1);
  }

  @Test
  void unreachableServerEndsWithFailuresNotACrash() {
    int code =
        Main.run(
            "bench",
            "--base-url",
            "http://127.0.0.1:1",
            "--num-prompts",
            "3",
            "--random-input-len",
            "4",
            "--random-output-len",
            "2",
            "--tokenizer",
            "words",
            "--no-progress");
    assertThat(code).isEqualTo(1); // nothing completed
    assertThat(List.of(code)).hasSize(1);
  }

  @Test
  void compareRoundsAlternateTheOrder() {
    var steps = BenchCommand.CompareCommand.schedule(2, 3);
    assertThat(steps.stream().map(st -> st[0] + "@" + st[1]).toList())
        .containsExactly("0@1", "1@1", "1@2", "0@2", "0@3", "1@3");
    assertThat(Main.run("bench", "compare", "-f", "x.yaml", "--rounds", "0")).isEqualTo(1);
  }
}
