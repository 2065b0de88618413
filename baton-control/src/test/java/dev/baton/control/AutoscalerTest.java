package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.ClusterSpec.AutoscaleTargets;
import dev.baton.control.ClusterSpec.AutoscalerSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * Scripted metric traces through the pure decision function: a simulated offered load (in
 * concurrent requests) is spread over however many replicas the scaler chose, sampled every
 * interval, and the decision is applied as the supervisor would.
 */
class AutoscalerTest {

  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final AutoscalerSettings SETTINGS =
      new AutoscalerSettings(2, 60, 6, 2.0, 0, 30, 0.1);

  /** 8 concurrent requests per replica is the target. */
  private static final AutoscaleTargets CONCURRENCY =
      new AutoscaleTargets(null, 8.0, null, null, null);

  /** One simulated run: the count over time and when it changed. */
  record Trace(List<Integer> counts, List<Integer> changeSeconds) {
    int last() {
      return counts.getLast();
    }

    int max() {
      return counts.stream().mapToInt(Integer::intValue).max().orElseThrow();
    }
  }

  /** Runs {@code seconds} of load ({@code loadAt(second)} = concurrent requests offered). */
  static Trace simulate(
      Autoscaler.Policy policy,
      int start,
      int seconds,
      IntToDoubleFunction loadAt,
      SampleMaker maker) {
    List<MetricSample> history = new ArrayList<>();
    Autoscaler.State state = Autoscaler.State.initial(start);
    List<Integer> counts = new ArrayList<>();
    List<Integer> changes = new ArrayList<>();
    int step = (int) policy.settings().intervalSeconds();
    for (int t = 0; t <= seconds; t += step) {
      Instant now = T0.plusSeconds(t);
      history.add(maker.make(now, state.current(), loadAt.applyAsDouble(t)));
      Autoscaler.Decision d = Autoscaler.decide(policy, history, state, now);
      if (d.desired() != state.current()) {
        changes.add(t);
      }
      state = state.after(d, now);
      counts.add(state.current());
    }
    return new Trace(counts, changes);
  }

  interface SampleMaker {
    MetricSample make(Instant time, int replicas, double load);
  }

  /** Offered concurrency: queued beyond 8 per replica counts as waiting. */
  static MetricSample concurrency(Instant time, int replicas, double load) {
    double capacity = replicas * 8.0;
    double running = Math.min(load, capacity);
    return new MetricSample(time, replicas, load - running, running, 0, null, null);
  }

  @Test
  void burstScalesOutWithinThePanicWindow() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    // 100 s of light load (4 requests), then a burst of 40 concurrent requests.
    Trace trace = simulate(policy, 1, 140, t -> t < 100 ? 4 : 40, AutoscalerTest::concurrency);
    assertThat(trace.counts().get(100 / 2 - 1)).isEqualTo(1);
    int firstChange = trace.changeSeconds().getFirst();
    assertThat(firstChange).isBetween(100, 100 + 6);
    // 40 / 8 = 5 replicas reached quickly, never more than needed
    assertThat(trace.counts().get((100 + 10) / 2)).isEqualTo(5);
    assertThat(trace.max()).isEqualTo(5);
  }

  @RepeatedTest(5)
  void noiseAroundASteadyLoadDoesNotFlap(org.junit.jupiter.api.RepetitionInfo info) {
    Random random = new Random(42 + info.getCurrentRepetition());
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    // 2 replicas carry ~12.8 requests (1.6 replicas' worth) with +-25% noise, for 10 minutes.
    Trace trace =
        simulate(
            policy,
            2,
            600,
            t -> 12.8 * (0.75 + 0.5 * random.nextDouble()),
            AutoscalerTest::concurrency);
    assertThat(trace.changeSeconds()).isEmpty();
    assertThat(trace.last()).isEqualTo(2);
  }

  @Test
  void scaleInWaitsForAFullStableWindowOfLowLoad() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    // 4 replicas busy (30 requests) until 120 s, then 5 requests.
    Trace trace = simulate(policy, 4, 300, t -> t < 120 ? 30 : 5, AutoscalerTest::concurrency);
    assertThat(trace.changeSeconds()).hasSize(1);
    int scaleIn = trace.changeSeconds().getFirst();
    // the first sample of the low load is at 120 s; a full 60 s window of them ends at 178 s
    assertThat(scaleIn).isBetween(120 + 58, 120 + 60 + 4);
    assertThat(trace.last()).isEqualTo(1);
  }

  @Test
  void aShortDipDoesNotScaleIn() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    // 3 replicas carry 22 requests; a 30 s dip to 2 requests in the middle.
    Trace trace =
        simulate(policy, 3, 300, t -> t >= 100 && t < 130 ? 2 : 22, AutoscalerTest::concurrency);
    assertThat(trace.changeSeconds()).isEmpty();
  }

  @Test
  void boundsHoldOnHugeBurstsAndIdleness() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 2, 5);
    Trace burst = simulate(policy, 2, 60, t -> 400, AutoscalerTest::concurrency);
    assertThat(burst.max()).isEqualTo(5);
    Trace idle = simulate(policy, 5, 400, t -> 0, AutoscalerTest::concurrency);
    assertThat(idle.last()).isEqualTo(2);
    assertThat(idle.counts()).allMatch(c -> c >= 2 && c <= 5);
    // A count outside the bounds (a spec change lowered max) is brought back inside.
    Autoscaler.Decision d =
        Autoscaler.decide(policy, List.of(concurrency(T0, 7, 8)), Autoscaler.State.initial(7), T0);
    assertThat(d.desired()).isEqualTo(5);
  }

  @Test
  void noScaleInRightAfterAPanicScaleOut() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    // A 10 s burst at 100 s, then light load: stay up for the stable window after the panic.
    Trace trace =
        simulate(policy, 1, 300, t -> t >= 100 && t < 110 ? 40 : 4, AutoscalerTest::concurrency);
    int panicAt = trace.changeSeconds().getFirst();
    assertThat(panicAt).isBetween(100, 106);
    int scaleIn = -1;
    for (int i = 1; i < trace.counts().size(); i++) {
      if (trace.counts().get(i) < trace.counts().get(i - 1)) {
        scaleIn = i * 2;
        break;
      }
    }
    // held for a stable window after the last panic decision (at most 110 s)
    assertThat(scaleIn).isGreaterThanOrEqualTo(104 + 60);
    assertThat(trace.last()).isEqualTo(1);
  }

  @Test
  void latencySignalsDriveScaleOutForPrefillAndDecode() {
    AutoscaleTargets ttft = new AutoscaleTargets(null, null, null, 500.0, null);
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, ttft, 1, 8);
    // p90 TTFT per replica grows with load per replica: 200 ms at 1 request, +100 ms each.
    SampleMaker maker =
        (time, replicas, load) ->
            new MetricSample(time, replicas, 0, load, 0, 0.2 + 0.1 * (load / replicas - 1), null);
    Trace trace = simulate(policy, 1, 200, t -> t < 50 ? 2 : 10, maker);
    assertThat(trace.counts().get(20)).isEqualTo(1);
    // at 10 requests on 1 replica the p90 is 1.1 s, 2.2x the target: panic scale-out
    assertThat(trace.changeSeconds().getFirst()).isBetween(50, 56);
    assertThat(trace.last()).isBetween(2, 3);

    AutoscaleTargets itl = new AutoscaleTargets(null, null, null, null, 50.0);
    MetricSample slow = new MetricSample(T0, 2, 0, 10, 0, null, 0.080);
    assertThat(Autoscaler.needed(slow, itl))
        .isEqualTo(3.2, org.assertj.core.api.Assertions.within(1e-9));
  }

  @Test
  void kvUsageAndWaitingAreSignalsAndTheMostLoadedWins() {
    AutoscaleTargets t = new AutoscaleTargets(2.0, null, 0.8, null, null);
    MetricSample s = new MetricSample(T0, 2, 3, 10, 0.6, null, null);
    // waiting 3 / 2 = 1.5 replicas; KV 2 * 0.6 / 0.8 = 1.5: both 1.5
    assertThat(Autoscaler.needed(s, t)).isEqualTo(1.5);
    MetricSample full = new MetricSample(T0, 2, 0, 10, 0.96, null, null);
    assertThat(Autoscaler.needed(full, t))
        .isEqualTo(2.4, org.assertj.core.api.Assertions.within(1e-9));
  }

  @Test
  void scaleOutCoolDownIsRespectedOutsidePanic() {
    AutoscalerSettings slowUp = new AutoscalerSettings(2, 60, 6, 10.0, 20, 30, 0.1);
    Autoscaler.Policy policy = new Autoscaler.Policy(slowUp, CONCURRENCY, 1, 8);
    // Load ramps steadily; scale-ups are at least 20 s apart.
    Trace trace = simulate(policy, 1, 200, t -> 4 + t * 0.25, AutoscalerTest::concurrency);
    List<Integer> ups = trace.changeSeconds();
    assertThat(ups).hasSizeGreaterThan(1);
    for (int i = 1; i < ups.size(); i++) {
      assertThat(ups.get(i) - ups.get(i - 1)).isGreaterThanOrEqualTo(20);
    }
  }

  @Test
  void noMetricsMeansNoChange() {
    Autoscaler.Policy policy = new Autoscaler.Policy(SETTINGS, CONCURRENCY, 1, 8);
    Autoscaler.Decision d = Autoscaler.decide(policy, List.of(), Autoscaler.State.initial(3), T0);
    assertThat(d.desired()).isEqualTo(3);
    assertThat(d.reason()).contains("no metrics");
    // Samples older than the stable window are ignored.
    Autoscaler.Decision old =
        Autoscaler.decide(
            policy,
            List.of(concurrency(T0.minus(Duration.ofMinutes(5)), 3, 100)),
            Autoscaler.State.initial(3),
            T0);
    assertThat(old.desired()).isEqualTo(3);
  }
}
