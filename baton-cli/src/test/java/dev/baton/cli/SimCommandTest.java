package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimCommandTest {

  @TempDir Path dir;

  @Test
  void thePrefillLineIsExactAtTheWorkloadsLengthForAConvexCost() {
    // Measured on the small preset: the chord from 1/2x to 3/2x would need base -54 ms; clamped
    // to 0 it predicted 426 ms at 1,024 tokens where the point itself says 339 ms.
    double[] line =
        CalibrationFits.prefillLine(
            new double[] {513, 161.1}, new double[] {1025, 338.7}, new double[] {1537, 610.1});
    assertThat(line[0]).isZero();
    assertThat(line[0] + line[1] * 1025).isCloseTo(338.7, offset(1e-9));
    // A cost with a real fixed part keeps the chord's slope through the 1x point.
    line =
        CalibrationFits.prefillLine(
            new double[] {500, 150}, new double[] {1000, 260}, new double[] {1500, 350});
    assertThat(line[1]).isCloseTo(0.2, offset(1e-12));
    assertThat(line[0]).isCloseTo(60, offset(1e-9));
  }

  @Test
  void theKvHopIsWhatTheGatewayAddsToThePrefillWorkersOwnTime() {
    // Through the gateway 20 ms + 0.01 ms/token more than at the prefill worker itself.
    double[] hop =
        CalibrationFits.hopLine(
            new double[] {500, 150 + 25},
            new double[] {1000, 260 + 30},
            new double[] {1500, 350 + 35},
            new double[] {500, 150},
            new double[] {1000, 260},
            new double[] {1500, 350});
    assertThat(hop[1]).isCloseTo(0.01, offset(1e-12));
    assertThat(hop[0]).isCloseTo(20, offset(1e-9));
    // The gateway path no slower than the worker's own (noise): no hop at all.
    hop =
        CalibrationFits.hopLine(
            new double[] {500, 150},
            new double[] {1000, 258},
            new double[] {1500, 350},
            new double[] {500, 152},
            new double[] {1000, 260},
            new double[] {1500, 349});
    assertThat(hop).containsExactly(0, 0);
  }

  @Test
  void theEngineStepTimeIsReadFromAWorkersMetrics() {
    String text =
        "# TYPE baton_engine_step_seconds histogram\n"
            + "baton_engine_step_seconds_bucket{le=\"+Inf\"} 12\n"
            + "baton_engine_step_seconds_count 12\n"
            + "baton_engine_step_seconds_sum 0.7515\n";
    java.net.URI worker = java.net.URI.create("http://127.0.0.1:1");
    assertThat(CalibrationFits.stepSecondsSumOf(text, worker)).isEqualTo(0.7515);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> CalibrationFits.stepSecondsSumOf("vllm:num_requests_running 0\n", worker))
        .hasMessageContaining("--prefill-url");
  }

  @Test
  void theKvCapacityIsReadFromVllmsCacheConfigInfo() {
    // vLLM's shape: every CacheConfig field a label, the gauge at 1.0.
    String vllm =
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
            + "# TYPE vllm:cache_config_info gauge\n"
            + "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\","
            + "enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\","
            + "num_cpu_blocks=\"None\",num_gpu_blocks=\"27000\",swap_space=\"4\"} 1.0\n";
    assertThat(CalibrationFits.kvCapacityOf(vllm)).isEqualTo(27_000L * 16);
    assertThat(CalibrationFits.kvCapacityOf(vllm.replace("\"27000\"", "\"None\""))).isZero();
    assertThat(CalibrationFits.kvCapacityOf("vllm:num_requests_running 0\n")).isZero();
  }

  @Test
  void theDecodeLineGoesThroughItsThreePoints() {
    // step = 0.3 + 0.2 x batch + 0.001 x context
    double[] alone = {1, 0.3 + 0.2 + 0.001 * 100, 100};
    double[] aloneLong = {1, 0.3 + 0.2 + 0.001 * 1100, 1100};
    double[] many = {4, 0.3 + 0.8 + 0.001 * 400, 400};
    double[] line = CalibrationFits.decodeLine(alone, aloneLong, many);
    assertThat(line[0]).isCloseTo(0.3, offset(1e-12));
    assertThat(line[1]).isCloseTo(0.2, offset(1e-12));
    assertThat(line[2]).isCloseTo(0.001, offset(1e-12));
  }

  @Test
  void interferenceIsHowMuchLongerWorkTookBesideABusyWorker() {
    assertThat(CalibrationFits.interference(1.89, 0.9)).isCloseTo(1.1, offset(1e-12));
    // Faster beside a busy worker is noise, not negative interference.
    assertThat(CalibrationFits.interference(290, 300)).isZero();
  }

  @Test
  void aStepModelFileWithoutInterferenceStillLoads() throws Exception {
    // Written by calibrate before interference was measured: its workers do not slow each other.
    dev.baton.sim.StepModel m =
        Json.MAPPER.readValue(
            "{\"prefillBaseMs\":0,\"prefillPerTokenMs\":0.33,\"decodeBaseMs\":0.5,"
                + "\"decodePerSeqMs\":0.24,\"decodePerContextTokenMs\":0.001,\"kvHopBaseMs\":0,"
                + "\"kvHopPerTokenMs\":0,\"chunkTokens\":512,\"maxBatch\":16}",
            dev.baton.sim.StepModel.class);
    assertThat(m.interferes()).isFalse();
    assertThat(m.jitters()).isFalse();
    assertThat(m.prefillPerTokenMs()).isEqualTo(0.33);
  }

  @Test
  void decodeJitterIsEachGapsDifferenceFromTheMeanInOrderAndRoundTripsThroughTheModelFile()
      throws Exception {
    // Gaps of 1, 1, 7, 1 ms (a stall): mean 2.5 ms.
    java.util.List<Double> jitter = new java.util.ArrayList<>();
    CalibrationFits.addJitter(new long[] {1_000_000, 1_000_000, 7_000_000, 1_000_000}, jitter);
    assertThat(jitter).containsExactly(-1.5, -1.5, 4.5, -1.5);
    // Over 2-step runs (1,1), (1,7), (7,1): mean jitter -1.5, 1.5, 1.5 ms; as a share of 2.5 ms.
    assertThat(CalibrationFits.runSpread(jitter, 2, 50, 2.5)).isCloseTo(0.6, offset(1e-12));
    assertThat(CalibrationFits.runSpread(jitter, 2, 1, 2.5)).isCloseTo(-0.6, offset(1e-12));
    assertThat(CalibrationFits.runSpread(jitter, 9, 99, 2.5)).isZero();
    dev.baton.sim.StepModel m =
        new dev.baton.sim.StepModel(
            0,
            0.3,
            0.5,
            0.2,
            0,
            0,
            0,
            512,
            16,
            0,
            0.2,
            0,
            0,
            CalibrationFits.rounded(jitter),
            new double[] {0.0004, 2.0},
            0,
            262_144);
    dev.baton.sim.StepModel back =
        Json.MAPPER.readValue(Json.MAPPER.writeValueAsString(m), dev.baton.sim.StepModel.class);
    assertThat(back.decodeJitterMs()).containsExactly(-1.5, -1.5, 4.5, -1.5);
    assertThat(back.decodeJitterBesidePrefillMs()).containsExactly(0.0004, 2.0);
    assertThat(back.decodeInterference()).isEqualTo(0.2);
    assertThat(back.kvCapacityTokens()).isEqualTo(262_144);
    // A model file from before the KV capacity existed loads with none (the usage reads 0).
    String before = Json.MAPPER.writeValueAsString(m).replace(",\"kvCapacityTokens\":262144", "");
    assertThat(before).doesNotContain("kvCapacityTokens");
    assertThat(Json.MAPPER.readValue(before, dev.baton.sim.StepModel.class).kvCapacityTokens())
        .isZero();
  }

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

  private Path lonelyBench(double medianTtft, double medianTpot) throws Exception {
    // Two requests 1000 s apart (rate 0.001/s), each alone: what the simulator predicts exactly.
    return Files.writeString(
        dir.resolve("bench.json"),
        """
        {"request_rate": 0.001, "burstiness": 1.0, "seed": 0,
         "input_lens": [100, 100], "output_lens": [11, 11],
         "median_ttft_ms": %s, "p99_ttft_ms": %s, "median_tpot_ms": %s, "p99_tpot_ms": %s}
        """
            .formatted(medianTtft, medianTtft, medianTpot, medianTpot));
  }

  private Path model() throws Exception {
    return Files.writeString(
        dir.resolve("model.json"),
        """
        {"prefillBaseMs": 0, "prefillPerTokenMs": 0.1, "decodeBaseMs": 2, "decodePerSeqMs": 0,
         "decodePerContextTokenMs": 0.01, "kvHopBaseMs": 0, "kvHopPerTokenMs": 0,
         "chunkTokens": 512, "maxBatch": 8}
        """);
  }

  @Test
  void replayComparesTheSimulatorWithARealRunAndFailsOutsideTheError() throws Exception {
    // TTFT 0.1 x 100 = 10 ms; TPOT 2 + 0.01 x (101..110 mean 105.5) = 3.055 ms
    Path json = dir.resolve("replay.json");
    int close =
        Main.run(
            "sim",
            "--replay",
            lonelyBench(11, 3).toString(),
            "--step-model",
            model().toString(),
            "--json",
            json.toString());
    assertThat(close).isZero();
    JsonNode r = Json.parse(Files.readString(json));
    assertThat(r.get("median_ttft_ms").get("ratio").asDouble()).isCloseTo(10.0 / 11, offset(1e-6));
    assertThat(r.get("p99_tpot_ms").get("sim").asDouble()).isCloseTo(3.055, offset(1e-9));
    assertThat(r.get("within").asBoolean()).isTrue();
    int off =
        Main.run(
            "sim", "--replay", lonelyBench(20, 3).toString(), "--step-model", model().toString());
    assertThat(off).isEqualTo(1);
  }

  @Test
  void replayRefusesAResultWithoutRequests() throws Exception {
    Path bare = Files.writeString(dir.resolve("bare.json"), "{\"request_rate\": 1}");
    assertThat(Main.run("sim", "--replay", bare.toString())).isNotZero();
  }

  @Test
  void theQuestionsAnswerWithOneRowPerSettingAndTheBest() throws Exception {
    Path modes = dir.resolve("modes.json");
    int code =
        Main.run(
            "sim",
            "--prefill",
            "2",
            "--decode",
            "2",
            "--groups",
            "2",
            "--compare-modes",
            "--request-rate",
            "5",
            "--num-prompts",
            "2000",
            "--json",
            modes.toString());
    assertThat(code).isZero();
    assertThat(Json.parse(Files.readString(modes)).fieldNames())
        .toIterable()
        .containsExactly("pool 2P2D", "replica 2x(1P1D)");
    Path sweep = dir.resolve("threshold.json");
    code =
        Main.run(
            "sim",
            "--threshold-sweep",
            "0,256,100000",
            "--num-prompts",
            "500",
            "--json",
            sweep.toString());
    assertThat(code).isZero();
    JsonNode t = Json.parse(Files.readString(sweep));
    assertThat(t.fieldNames())
        .toIterable()
        .containsExactly("1P1D threshold 0", "1P1D threshold 256", "1P1D threshold 100000");
    assertThat(Main.run("sim", "--compare-modes")).isNotZero();
  }
}
