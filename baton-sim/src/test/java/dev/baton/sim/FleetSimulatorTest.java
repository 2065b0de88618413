package dev.baton.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class FleetSimulatorTest {

  /** Prefill costs 0.01 ms per token: a prompt of 10,000 tokens is served in 100 ms (mu = 10/s). */
  private static final StepModel QUEUE = new StepModel(0, 0.01, 1, 0, 0, 0, 512, 8);

  private static SimResult queue(SimWorkload.Lengths lengths, double rate, int requests) {
    return new FleetSimulator(
            new Fleet(1, 1, 0), QUEUE, new SimWorkload(rate, requests, 10_000, 1, lengths, 42))
        .run();
  }

  @Test
  void oneFifoPrefillWorkerWithExponentialServiceWaitsAsMm1() {
    double lambda = 7;
    double mu = 10;
    double rho = lambda / mu;
    double expectedWaitMs = rho / (mu - lambda) * 1000; // 233.3 ms
    SimResult r = queue(SimWorkload.Lengths.EXPONENTIAL, lambda, 400_000);
    assertThat(r.meanWaitMs()).isCloseTo(expectedWaitMs, within(0.05 * expectedWaitMs));
  }

  @Test
  void oneFifoPrefillWorkerWithFixedServiceWaitsAsMd1() {
    double lambda = 7;
    double mu = 10;
    double rho = lambda / mu;
    double expectedWaitMs = rho / (2 * mu * (1 - rho)) * 1000; // 116.7 ms
    SimResult r = queue(SimWorkload.Lengths.FIXED, lambda, 400_000);
    assertThat(r.meanWaitMs()).isCloseTo(expectedWaitMs, within(0.05 * expectedWaitMs));
    // TTFT = wait + the fixed 100 ms service (no KV hop in this model)
    assertThat(r.meanTtftMs()).isCloseTo(expectedWaitMs + 100, within(0.05 * expectedWaitMs));
  }

  @Test
  void aLoneRequestTakesExactlyItsStepTimes() {
    StepModel m = new StepModel(5, 0.1, 2, 0.5, 3, 0.01, 512, 8);
    SimResult pd =
        new FleetSimulator(
                new Fleet(1, 1, 0), m, new SimWorkload(1, 1, 100, 11, SimWorkload.Lengths.FIXED, 1))
            .run();
    // prefill 5 + 0.1 x 100 = 15 ms, hop 3 + 1 = 4 ms; then 10 decode steps of 2.5 ms
    assertThat(pd.meanTtftMs()).isCloseTo(19, within(1e-9));
    assertThat(pd.meanTpotMs()).isCloseTo(2.5, within(1e-9));
    SimResult colocated =
        new FleetSimulator(
                new Fleet(0, 0, 1),
                m,
                new SimWorkload(1, 1, 1000, 11, SimWorkload.Lengths.FIXED, 1))
            .run();
    // two chunks (512 + 488 tokens): 5 + 0.1 x 1000 = 105 ms, no hop
    assertThat(colocated.meanTtftMs()).isCloseTo(105, within(1e-9));
    assertThat(colocated.meanTpotMs()).isCloseTo(2.5, within(1e-9));
  }

  @Test
  void longPromptsStretchColocatedDecodeButNotDisaggregated() {
    StepModel m = new StepModel(2, 0.2, 5, 0.5, 3, 0.005, 512, 32);
    SimWorkload w = new SimWorkload(1.5, 3_000, 1500, 100, SimWorkload.Lengths.EXPONENTIAL, 7);
    SimResult colocated = new FleetSimulator(new Fleet(0, 0, 2), m, w).run();
    SimResult pd = new FleetSimulator(new Fleet(1, 1, 0), m, w).run();
    assertThat(colocated.tpotPercentileMs(99)).isGreaterThan(1.5 * pd.tpotPercentileMs(99));
    assertThat(pd.meanTtftMs()).isGreaterThan(colocated.meanTtftMs());
  }

  @Test
  void badFleetsAndModelsAreClearErrors() {
    assertThatThrownBy(() -> new Fleet(1, 0, 0)).hasMessageContaining("prefill and one decode");
    assertThatThrownBy(() -> new Fleet(0, 0, 0)).hasMessageContaining("no workers");
    assertThatThrownBy(() -> new StepModel(-1, 0, 0, 0, 0, 0, 1, 1)).hasMessageContaining(">= 0");
    assertThatThrownBy(() -> new SimWorkload(0, 1, 1, 1, SimWorkload.Lengths.FIXED, 1))
        .hasMessageContaining("rate");
  }

  @Test
  void requestsAreRoutedByTheGatewaysOwnPolicies() {
    // Four colocated workers, long and short requests mixed: round-robin ignores load, the
    // gateway's least-request policy does not, so its TTFT tail is shorter.
    StepModel m = new StepModel(1, 0.05, 2, 0.1, 0, 0, 256, 8);
    SimWorkload w = new SimWorkload(30, 4_000, 400, 40, SimWorkload.Lengths.EXPONENTIAL, 3);
    Fleet four = new Fleet(0, 0, 4);
    SimResult leastRequest = new FleetSimulator(four, m, w, "least-request").run();
    SimResult roundRobin = new FleetSimulator(four, m, w, "round-robin").run();
    assertThat(leastRequest.completed()).isEqualTo(4_000);
    assertThat(roundRobin.completed()).isEqualTo(4_000);
    assertThat(leastRequest.ttftPercentileMs(99)).isLessThan(roundRobin.ttftPercentileMs(99));
    // The same seed routes the same way: the policies' randomness comes from the simulation.
    assertThat(new FleetSimulator(four, m, w, "random").run().ttftPercentileMs(99))
        .isEqualTo(new FleetSimulator(four, m, w, "random").run().ttftPercentileMs(99));
  }

  @Test
  void unknownPoliciesAndPoliciesThatReadPromptsAreRefused() {
    StepModel m = new StepModel(1, 0.05, 2, 0.1, 0, 0, 256, 8);
    SimWorkload w = new SimWorkload(1, 10, 100, 10, SimWorkload.Lengths.FIXED, 1);
    assertThatThrownBy(() -> new FleetSimulator(new Fleet(1, 1, 0), m, w, "fastest"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown routing policy 'fastest'")
        .hasMessageContaining("least-request");
    assertThatThrownBy(() -> new FleetSimulator(new Fleet(1, 1, 0), m, w, "prefix-cache"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prompt content");
  }
}
