package dev.baton.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.control.ClusterSpec.PdRatioSpec;
import dev.baton.control.MetricsScraper.WorkerMetrics;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code autoscaler.pdRatio} at run time, shared by the local supervisor and the Kubernetes
 * operator: the ratio in use (fixed, or derived from a calibrated step-time file and the prompt and
 * output lengths the workers observed over the stable window) and the coupling of the two pools'
 * own scaling decisions to it.
 */
public final class PdRatioTracker {

  /** The step times a derived ratio needs, read from a {@code baton sim calibrate} file. */
  public record StepTimes(
      double prefillBaseMs,
      double prefillPerTokenMs,
      double decodeBaseMs,
      double decodePerSeqMs,
      int maxBatch) {

    /** Reads the fields this needs from the step-model JSON; a clear error when it cannot. */
    public static StepTimes read(Path file) {
      JsonNode n;
      try {
        n = Json.parse(Files.readString(file));
      } catch (IOException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "autoscaler.pdRatio.stepModel: cannot read " + file + ": " + e.getMessage(), e);
      }
      for (String key :
          List.of("prefillBaseMs", "prefillPerTokenMs", "decodeBaseMs", "decodePerSeqMs")) {
        if (!n.path(key).isNumber() || n.path(key).asDouble() < 0) {
          throw new IllegalArgumentException(
              "autoscaler.pdRatio.stepModel: "
                  + file
                  + " has no number >= 0 for "
                  + key
                  + " (write it with baton sim calibrate)");
        }
      }
      return new StepTimes(
          n.path("prefillBaseMs").asDouble(),
          n.path("prefillPerTokenMs").asDouble(),
          n.path("decodeBaseMs").asDouble(),
          n.path("decodePerSeqMs").asDouble(),
          Math.max(1, n.path("maxBatch").asInt(1)));
    }
  }

  /**
   * What the workers did in one interval: prompt tokens and requests (prefill), output (decode).
   */
  private record Delta(
      Instant time, double prompt, double prefillDone, double output, double decodeDone) {}

  private final Map<String, double[]> previous = new HashMap<>();
  private final Deque<Delta> window = new ArrayDeque<>();
  private StepTimes steps;
  private String stepsFile;

  /**
   * Records this interval's counters ({@code metrics} of the ready workers) and returns the ratio
   * to keep: the target, or the derived one; {@code null} while a derived ratio has no finished
   * request to go on.
   */
  public Double ratio(PdRatioSpec spec, List<WorkerMetrics> metrics, Instant now, double windowS) {
    observe(metrics, now, windowS);
    if (spec.target() != null) {
      return spec.target();
    }
    if (!spec.stepModel().equals(stepsFile)) {
      steps = StepTimes.read(Path.of(spec.stepModel()));
      stepsFile = spec.stepModel();
    }
    double prompt = 0;
    double prefillDone = 0;
    double output = 0;
    double decodeDone = 0;
    for (Delta d : window) {
      prompt += d.prompt();
      prefillDone += d.prefillDone();
      output += d.output();
      decodeDone += d.decodeDone();
    }
    if (prefillDone < 1 || decodeDone < 1 || prompt <= 0 || output <= 0) {
      return null;
    }
    int batch = spec.batch() != null ? spec.batch() : steps.maxBatch();
    double prefillMs = steps.prefillBaseMs() + steps.prefillPerTokenMs() * prompt / prefillDone;
    double stepMs = steps.decodeBaseMs() + steps.decodePerSeqMs() * batch;
    if (!(prefillMs > 0) || !(stepMs > 0)) {
      return null;
    }
    return PdRatio.derive(prefillMs, output / decodeDone, stepMs, batch);
  }

  /** Adds each worker's counter growth since its last scrape (a restarted worker starts over). */
  private void observe(List<WorkerMetrics> metrics, Instant now, double windowS) {
    double prompt = 0;
    double prefillDone = 0;
    double output = 0;
    double decodeDone = 0;
    for (WorkerMetrics m : metrics) {
      double[] now3 = {m.promptTokens(), m.generationTokens(), m.finished()};
      double[] last = previous.put(m.worker().id(), now3);
      double[] grew = new double[3];
      for (int i = 0; i < 3; i++) {
        grew[i] = last == null ? 0 : now3[i] >= last[i] ? now3[i] - last[i] : now3[i];
      }
      if (m.worker().role() == Role.PREFILL) {
        prompt += grew[0];
        prefillDone += grew[2];
      } else if (m.worker().role() == Role.DECODE) {
        output += grew[1];
        decodeDone += grew[2];
      }
    }
    window.addLast(new Delta(now, prompt, prefillDone, output, decodeDone));
    Instant horizon = now.minus(Duration.ofMillis(Math.round(windowS * 1000)));
    while (!window.isEmpty() && window.peekFirst().time().isBefore(horizon)) {
      window.removeFirst();
    }
  }

  /**
   * The pools' counts after coupling to {@code ratio}. With both roles' own decisions the short one
   * is raised to its share ({@link PdRatio#couple}); a role without autoscale targets ({@code
   * null}) follows the other: its share of the other's count, within its bounds, so it goes up and
   * down with it.
   */
  public static PdRatio.Counts couple(
      ClusterSpec spec, Integer prefillDecided, Integer decodeDecided, double ratio) {
    ClusterSpec.RoleSpec prefill = spec.roles().get(Role.PREFILL);
    ClusterSpec.RoleSpec decode = spec.roles().get(Role.DECODE);
    if (prefillDecided != null && decodeDecided != null) {
      return PdRatio.couple(prefillDecided, decodeDecided, ratio, prefill.max(), decode.max());
    }
    if (decodeDecided != null) {
      int share = PdRatio.couple(0, decodeDecided, ratio, prefill.max(), decode.max()).prefill();
      return new PdRatio.Counts(clamp(share, prefill), decodeDecided);
    }
    if (prefillDecided == null) {
      throw new IllegalArgumentException("pdRatio: neither role has a decision to follow");
    }
    int share = PdRatio.couple(prefillDecided, 0, ratio, prefill.max(), decode.max()).decode();
    return new PdRatio.Counts(prefillDecided, clamp(share, decode));
  }

  private static int clamp(int n, ClusterSpec.RoleSpec role) {
    return Math.max(role.min(), Math.min(role.max(), n));
  }
}
