package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.baton.control.ClusterSpec.PdRatioSpec;
import dev.baton.control.MetricsScraper.Target;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.core.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** autoscaler.pdRatio: the spec rules, the derived ratio from worker counters, the coupling. */
class PdRatioTrackerTest {

  @TempDir Path dir;

  private static final Target PREFILL = new Target("prefill-0", Role.PREFILL, null, "http://p");
  private static final Target DECODE = new Target("decode-0", Role.DECODE, null, "http://d");

  /** A worker's /metrics as a Baton worker writes its counters. */
  private static WorkerMetrics metrics(Target t, long prompt, long generated, long finished) {
    String text =
        "# TYPE vllm:prompt_tokens counter\nvllm:prompt_tokens_total{model_name=\"m\"} "
            + prompt
            + "\n# TYPE vllm:generation_tokens counter\nvllm:generation_tokens_total{model_name=\"m\"} "
            + generated
            + "\n# TYPE vllm:request_success counter\n"
            + "vllm:request_success_total{model_name=\"m\",finished_reason=\"length\"} "
            + finished
            + "\n";
    return MetricsScraper.parse(t, text);
  }

  private static ClusterSpec spec(String autoscaler, String roles) {
    return SpecParser.parse(
        "model: random:tiny\nautoscaler: " + autoscaler + "\nroles:\n" + roles, "t");
  }

  @Test
  void theSpecTakesATargetOrAStepModelAndRefusesWhatCannotWork() {
    ClusterSpec fixed =
        spec(
            "{pdRatio: {target: 0.5}}",
            "  prefill: {replicas: 1}\n  decode: {replicas: 2, autoscale: {concurrencyPerReplica: 4}}\n");
    assertThat(fixed.autoscaler().pdRatio()).isEqualTo(new PdRatioSpec(0.5, null, null));
    assertThatThrownBy(() -> spec("{pdRatio: {}}", "  prefill: {}\n  decode: {}\n"))
        .hasMessageContaining("autoscaler.pdRatio: set either target");
    assertThatThrownBy(
            () -> spec("{pdRatio: {target: 1, batch: 4}}", "  prefill: {}\n  decode: {}\n"))
        .hasMessageContaining("autoscaler.pdRatio.batch");
    assertThatThrownBy(() -> spec("{pdRatio: {target: 1}}", "  prefill: {}\n  decode: {}\n"))
        .hasMessageContaining("set autoscale targets on roles.prefill or roles.decode");
    assertThatThrownBy(
            () ->
                spec(
                    "{pdRatio: {target: 1}}",
                    "  decode: {replicas: 1, autoscale: {concurrencyPerReplica: 4}}\n"))
        .hasMessageContaining("needs both a prefill and a decode role");
    assertThatThrownBy(
            () ->
                SpecParser.parse(
                    "model: random:tiny\nmode: replica\nautoscaler: {pdRatio: {target: 1}}\n"
                        + "roles:\n  prefill: {}\n  decode: {}\n",
                    "t"))
        .hasMessageContaining("replica mode's ratio is its group's shape");
  }

  @Test
  void aFixedTargetIsUsedAsIs() {
    PdRatioTracker tracker = new PdRatioTracker();
    assertThat(tracker.ratio(new PdRatioSpec(0.5, null, null), List.of(), Instant.now(), 60))
        .isEqualTo(0.5);
  }

  @Test
  void aDerivedRatioFollowsTheObservedPromptAndOutputLengths() throws Exception {
    Path model = dir.resolve("step-model.json");
    // 1 + 0.2 ms per prompt token; a decode step of 16 costs 4 + 0.25 * 16 = 8 ms.
    Files.writeString(
        model,
        "{\"prefillBaseMs\": 1, \"prefillPerTokenMs\": 0.2, \"decodeBaseMs\": 4,"
            + " \"decodePerSeqMs\": 0.25, \"kvHopBaseMs\": 1, \"kvHopPerTokenMs\": 0,"
            + " \"chunkTokens\": 512, \"maxBatch\": 16}");
    PdRatioSpec derived = new PdRatioSpec(null, model.toString(), null);
    PdRatioTracker tracker = new PdRatioTracker();
    Instant t0 = Instant.parse("2026-11-29T03:00:00Z");
    // The first scrape only sets the baseline: nothing observed yet, no ratio.
    assertThat(
            tracker.ratio(
                derived, List.of(metrics(PREFILL, 500, 7, 7), metrics(DECODE, 0, 900, 7)), t0, 60))
        .isNull();
    // Then 10 requests of 1024 prompt tokens, 128 output tokens each.
    Double ratio =
        tracker.ratio(
            derived,
            List.of(metrics(PREFILL, 500 + 10240, 17, 17), metrics(DECODE, 0, 900 + 1280, 17)),
            t0.plusSeconds(2),
            60);
    // prefill 1 + 0.2 * 1024 = 205.8 ms over 128 * 8 / 16 = 64 ms of decode-worker time
    assertThat(ratio).isCloseTo(205.8 / 64, within(1e-9));
    // Longer answers in the next interval: the window mixes both (20 requests, 1024 / 384 mean).
    ratio =
        tracker.ratio(
            derived,
            List.of(
                metrics(PREFILL, 500 + 20480, 27, 27), metrics(DECODE, 0, 900 + 1280 + 6400, 27)),
            t0.plusSeconds(4),
            60);
    assertThat(ratio).isCloseTo(205.8 / (384.0 * 8 / 16), within(1e-9));
    // Past the window only the newest interval counts (640 output tokens per request).
    ratio =
        tracker.ratio(
            derived,
            List.of(
                metrics(PREFILL, 500 + 20480, 27, 27), metrics(DECODE, 0, 900 + 1280 + 6400, 27)),
            t0.plusSeconds(5),
            1.5);
    assertThat(ratio).isCloseTo(205.8 / (640.0 * 8 / 16), within(1e-9));
    // A restarted worker's counters start again from zero: its new total is the growth.
    assertThat(
            tracker.ratio(
                new PdRatioSpec(null, model.toString(), 8),
                List.of(metrics(PREFILL, 2048, 2, 2), metrics(DECODE, 0, 256, 2)),
                t0.plusSeconds(7),
                1.5))
        .isCloseTo(205.8 / (128.0 * 6 / 8), within(1e-9));
  }

  @Test
  void aMissingOrIncompleteStepModelIsAClearError() throws Exception {
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"prefillBaseMs\": 1}");
    assertThatThrownBy(() -> PdRatioTracker.StepTimes.read(bad))
        .hasMessageContaining("no number >= 0 for prefillPerTokenMs");
    assertThatThrownBy(() -> PdRatioTracker.StepTimes.read(dir.resolve("none.json")))
        .hasMessageContaining("autoscaler.pdRatio.stepModel: cannot read");
  }

  @Test
  void aFollowerRoleWithoutTargetsGoesUpAndDownWithItsLeader() {
    ClusterSpec spec =
        spec(
            "{pdRatio: {target: 0.5}}",
            "  prefill: {replicas: 1, max: 4}\n"
                + "  decode: {replicas: 2, max: 8, autoscale: {concurrencyPerReplica: 4}}\n");
    // decode's own decisions over a scripted load: prefill (no targets) follows at 1:2
    int[] decode = {2, 4, 7, 8, 3, 1};
    int[] prefill = {1, 2, 4, 4, 2, 1}; // never below its min 1, never above its max 4
    for (int i = 0; i < decode.length; i++) {
      PdRatio.Counts c = PdRatioTracker.couple(spec, null, decode[i], 0.5);
      assertThat(c).as("step " + i).isEqualTo(new PdRatio.Counts(prefill[i], decode[i]));
    }
    // prefill leads, decode follows
    assertThat(PdRatioTracker.couple(spec, 3, null, 0.5)).isEqualTo(new PdRatio.Counts(3, 6));
    assertThat(PdRatioTracker.couple(spec, 1, null, 0.5)).isEqualTo(new PdRatio.Counts(1, 2));
    // both autoscaled: a prefill burst brings decode along, never lowering either
    assertThat(PdRatioTracker.couple(spec, 3, 2, 0.5)).isEqualTo(new PdRatio.Counts(3, 6));
    assertThat(PdRatioTracker.couple(spec, 1, 1, 0.5)).isEqualTo(new PdRatio.Counts(1, 2));
  }
}
