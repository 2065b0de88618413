package dev.baton.control;

import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.ClusterSpec.AutoscalerSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The scaling decision as a pure function from a metrics history to a desired count, shared by the
 * local supervisor and the Kubernetes operator.
 *
 * <p>Each sample says how many replicas its load needs: for every target set, {@code replicas x
 * observed / target} (waiting and concurrency are totals, so {@code total / target}); the most
 * loaded signal wins. Two windows smooth that (the Knative scheme): the mean over the short
 * <em>panic</em> window reacts to bursts — if it asks for {@code panicThreshold} times the current
 * count, scale out at once and do not scale in until a whole stable window has passed without
 * panic. Otherwise the mean over the long <em>stable</em> window scales out (past a tolerance), and
 * scale-in happens only when every sample of a full stable window wanted fewer replicas and the
 * scale-in cool-down has passed. The result is always within min..max.
 */
public final class Autoscaler {

  private Autoscaler() {}

  /** What an autoscaled unit must satisfy: targets, tuning, bounds. */
  public record Policy(AutoscalerSettings settings, AutoscaleTargets targets, int min, int max) {
    public Policy {
      if (min > max) {
        throw new IllegalArgumentException("min " + min + " > max " + max);
      }
    }
  }

  /**
   * What the scaler remembers between decisions; {@code null} instants mean "never".
   *
   * @param current replicas now
   */
  public record State(int current, Instant lastScaleUp, Instant lastScaleDown, Instant lastPanic) {
    public static State initial(int current) {
      return new State(current, null, null, null);
    }

    /** The state after acting on a decision taken at {@code now}. */
    public State after(Decision decision, Instant now) {
      Instant up = decision.desired() > current ? now : lastScaleUp;
      Instant down = decision.desired() < current ? now : lastScaleDown;
      return new State(decision.desired(), up, down, decision.panic() ? now : lastPanic);
    }
  }

  /** The desired count, why, and whether the panic window drove it. */
  public record Decision(int desired, String reason, boolean panic) {}

  /** Replicas one sample's load needs (a real number; 0 when idle), per the targets set. */
  public static double needed(MetricSample s, AutoscaleTargets t) {
    double need = 0;
    int replicas = s.replicas();
    if (t.waitingPerReplica() != null) {
      need = Math.max(need, s.waiting() / t.waitingPerReplica());
    }
    if (t.concurrencyPerReplica() != null) {
      need = Math.max(need, (s.waiting() + s.running()) / t.concurrencyPerReplica());
    }
    if (t.kvUsage() != null) {
      need = Math.max(need, replicas * s.kvUsage() / t.kvUsage());
    }
    if (t.ttftP90Ms() != null && s.ttftP90Seconds() != null) {
      need = Math.max(need, replicas * s.ttftP90Seconds() * 1000 / t.ttftP90Ms());
    }
    if (t.itlP90Ms() != null && s.itlP90Seconds() != null) {
      need = Math.max(need, replicas * s.itlP90Seconds() * 1000 / t.itlP90Ms());
    }
    return need;
  }

  /** Decides the desired count at {@code now} from the samples in {@code history} (any order). */
  public static Decision decide(
      Policy policy, List<MetricSample> history, State state, Instant now) {
    AutoscalerSettings cfg = policy.settings();
    int current = state.current();
    Instant stableStart = now.minus(seconds(cfg.stableWindowSeconds()));
    Instant panicStart = now.minus(seconds(cfg.panicWindowSeconds()));

    double stableSum = 0;
    double stableMax = 0;
    int stableCount = 0;
    double panicSum = 0;
    int panicCount = 0;
    Instant oldest = null;
    for (MetricSample s : history) {
      if (s.time().isAfter(now) || !s.time().isAfter(stableStart)) {
        continue;
      }
      double need = needed(s, policy.targets());
      stableSum += need;
      stableMax = Math.max(stableMax, need);
      stableCount++;
      if (s.time().isAfter(panicStart)) {
        panicSum += need;
        panicCount++;
      }
      if (oldest == null || s.time().isBefore(oldest)) {
        oldest = s.time();
      }
    }
    if (stableCount == 0) {
      return bounded(policy, current, "no metrics yet", false);
    }
    double stableNeed = stableSum / stableCount;
    double panicNeed = panicCount == 0 ? stableNeed : panicSum / panicCount;

    // Panic: the short window asks for a multiple of what runs now: scale out at once.
    boolean panicNow =
        current == 0
            ? panicNeed > 0
            : panicNeed / current >= cfg.panicThreshold() && ceil(panicNeed) > current;
    if (panicNow) {
      int desired = Math.max(current, ceil(panicNeed));
      return bounded(
          policy,
          desired,
          String.format("panic: short-window load needs %.2f replicas", panicNeed),
          true);
    }
    boolean inPanicHold =
        state.lastPanic() != null
            && now.isBefore(state.lastPanic().plus(seconds(cfg.stableWindowSeconds())));

    // Scale out on the stable window's mean, past the tolerance band.
    if (stableNeed > current * (1 + cfg.tolerance()) && ceil(stableNeed) > current) {
      if (cooledDown(state, now, cfg.scaleUpCooldownSeconds())) {
        return bounded(
            policy,
            ceil(stableNeed),
            String.format("stable-window load needs %.2f replicas", stableNeed),
            false);
      }
      return bounded(policy, current, "scale-out waits for its cool-down", false);
    }

    // Scale in only when a full stable window, every sample of it, wanted fewer.
    boolean fullWindow =
        !oldest.isAfter(stableStart.plus(seconds(Math.max(cfg.intervalSeconds(), 0))));
    int stableCeil = ceil(stableMax);
    if (stableCeil < current) {
      if (inPanicHold) {
        return bounded(policy, current, "holding after a panic scale-out", false);
      }
      if (!fullWindow) {
        return bounded(policy, current, "waiting for a full stable window before scale-in", false);
      }
      if (!cooledDown(state, now, cfg.scaleDownCooldownSeconds())) {
        return bounded(policy, current, "scale-in waits for its cool-down", false);
      }
      return bounded(
          policy,
          stableCeil,
          String.format("peak load over the stable window needs %.2f replicas", stableMax),
          false);
    }
    return bounded(policy, current, "steady", false);
  }

  private static boolean cooledDown(State state, Instant now, double cooldownSeconds) {
    Instant last = state.lastScaleUp();
    if (state.lastScaleDown() != null && (last == null || state.lastScaleDown().isAfter(last))) {
      last = state.lastScaleDown();
    }
    return last == null || !now.isBefore(last.plus(seconds(cooldownSeconds)));
  }

  private static Decision bounded(Policy policy, int desired, String reason, boolean panic) {
    if (desired > policy.max()) {
      return new Decision(policy.max(), reason + " (capped at max " + policy.max() + ")", panic);
    }
    if (desired < policy.min()) {
      return new Decision(policy.min(), reason + " (held at min " + policy.min() + ")", panic);
    }
    return new Decision(desired, reason, panic);
  }

  private static int ceil(double need) {
    // A hair below an integer is that integer: 2.0000000001 from float noise must not add one.
    return (int) Math.ceil(need - 1e-9);
  }

  private static Duration seconds(double s) {
    return Duration.ofMillis(Math.round(s * 1000));
  }
}
