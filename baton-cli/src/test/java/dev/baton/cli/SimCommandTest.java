package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimCommandTest {

  @TempDir Path dir;

  @Test
  void sweepWritesEveryLayoutWithVllmKeys() throws Exception {
    Path out = dir.resolve("sim.json");
    int code =
        Main.run(
            "sim",
            "--sweep-total",
            "3",
            "--request-rate",
            "2",
            "--num-prompts",
            "500",
            "--json",
            out.toString(),
            "--chart",
            dir.resolve("sim.png").toString());
    assertThat(code).isZero();
    assertThat(Files.size(dir.resolve("sim.png"))).isPositive();
    JsonNode json = Json.parse(Files.readString(out));
    assertThat(json.fieldNames()).toIterable().containsExactly("1P2D", "2P1D", "3 colocated");
    for (JsonNode layout : json) {
      assertThat(layout.get("completed").asInt()).isEqualTo(500);
      assertThat(layout.get("p99_ttft_ms").asDouble())
          .isGreaterThanOrEqualTo(layout.get("median_ttft_ms").asDouble());
      assertThat(layout.get("p99_tpot_ms").asDouble()).isPositive();
      assertThat(layout.get("goodput_per_worker").asDouble()).isNotNegative();
    }
  }

  @Test
  void aStepModelFileReplacesTheExample() throws Exception {
    Path model =
        Files.writeString(
            dir.resolve("model.json"),
            """
            {"prefillBaseMs": 0, "prefillPerTokenMs": 0.1, "decodeBaseMs": 2, "decodePerSeqMs": 0,
             "kvHopBaseMs": 0, "kvHopPerTokenMs": 0, "chunkTokens": 512, "maxBatch": 8}
            """);
    Path out = dir.resolve("one.json");
    int code =
        Main.run(
            "sim",
            "--step-model",
            model.toString(),
            "--request-rate",
            "0.001",
            "--num-prompts",
            "3",
            "--lengths",
            "fixed",
            "--random-input-len",
            "100",
            "--random-output-len",
            "11",
            "--json",
            out.toString());
    assertThat(code).isZero();
    JsonNode r = Json.parse(Files.readString(out)).get("1P1D");
    // alone in the fleet: 0.1 x 100 ms of prefill, then 2 ms per decode step
    assertThat(r.get("mean_ttft_ms").asDouble())
        .isEqualTo(10.0, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(r.get("mean_tpot_ms").asDouble())
        .isEqualTo(2.0, org.assertj.core.data.Offset.offset(1e-9));
  }
}
