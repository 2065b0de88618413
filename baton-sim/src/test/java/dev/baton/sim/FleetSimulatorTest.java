package dev.baton.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class FleetSimulatorTest {

  /** Prefill costs 0.01 ms per token: a prompt of 10,000 tokens is served in 100 ms (mu = 10/s). */
  private static final StepModel QUEUE = new StepModel(0, 0.01, 1, 0, 0, 0, 0, 512, 8);

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
    StepModel m = new StepModel(5, 0.1, 2, 0.5, 0, 3, 0.01, 512, 8);
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
    StepModel m = new StepModel(2, 0.2, 5, 0.5, 0, 3, 0.005, 512, 32);
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
    assertThatThrownBy(() -> new StepModel(-1, 0, 0, 0, 0, 0, 0, 1, 1))
        .hasMessageContaining(">= 0");
    assertThatThrownBy(() -> new SimWorkload(0, 1, 1, 1, SimWorkload.Lengths.FIXED, 1))
        .hasMessageContaining("rate");
  }

  @Test
  void requestsAreRoutedByTheGatewaysOwnPolicies() {
    // Four colocated workers, long and short requests mixed: round-robin ignores load, the
    // gateway's least-request policy does not, so its TTFT tail is shorter.
    StepModel m = new StepModel(1, 0.05, 2, 0.1, 0, 0, 0, 256, 8);
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
    StepModel m = new StepModel(1, 0.05, 2, 0.1, 0, 0, 0, 256, 8);
    SimWorkload w = new SimWorkload(1, 10, 100, 10, SimWorkload.Lengths.FIXED, 1);
    assertThatThrownBy(() -> new FleetSimulator(new Fleet(1, 1, 0), m, w, "fastest"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown routing policy 'fastest'")
        .hasMessageContaining("least-request");
    assertThatThrownBy(() -> new FleetSimulator(new Fleet(1, 1, 0), m, w, "prefix-cache"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prompt content");
  }

  @Test
  void thePdPairPolicyRunsWithItsPrefixTermEqualForAllAndTheSameSeedGivesTheSameRun() {
    StepModel m = new StepModel(2, 0.1, 3, 0.5, 0.001, 1, 0, 512, 16).withKvCapacity(50_000);
    SimWorkload w = new SimWorkload(20, 3_000, 600, 100, SimWorkload.Lengths.EXPONENTIAL, 3);
    for (Fleet fleet : List.of(new Fleet(2, 4, 0), new Fleet(2, 4, 0, 2), new Fleet(0, 0, 3))) {
      SimResult a =
          new FleetSimulator(fleet, m, w.trace(), new FleetSimulator.Routing("pd", 0, 5, 100))
              .run();
      SimResult b =
          new FleetSimulator(fleet, m, w.trace(), new FleetSimulator.Routing("pd", 0, 5, 100))
              .run();
      assertThat(a.completed()).as(fleet.name()).isEqualTo(3_000);
      assertThat(a.meanTtftMs()).as(fleet.name()).isEqualTo(b.meanTtftMs());
      assertThat(a.meanTpotMs()).as(fleet.name()).isEqualTo(b.meanTpotMs());
    }
  }

  /**
   * With a KV capacity the scrapes carry each worker's KV usage: a request that finds two workers
   * equally busy joins the one holding less KV under least-kv-cache, and its steps read less
   * context. Without one every usage reads 0 and the tie goes to the first worker, the one holding
   * a 2,000-token prompt.
   */
  @Test
  void scrapedKvUsageSteersKvAwarePoliciesToTheWorkerHoldingLess() {
    StepModel m = new StepModel(1, 0.001, 1, 0, 0.01, 0, 0, 4_096, 8);
    SimTrace trace =
        new SimTrace(
            new double[] {0, 1, 500}, new int[] {2_000, 10, 10}, new int[] {400, 2_000, 50});
    FleetSimulator.Routing routing = new FleetSimulator.Routing("least-kv-cache", 0, 3, 100);
    Fleet two = new Fleet(0, 0, 2);
    SimResult blind = new FleetSimulator(two, m, trace, routing).run();
    SimResult seeing = new FleetSimulator(two, m.withKvCapacity(100_000), trace, routing).run();
    assertThat(blind.tpotMs(2)).as("beside the 2,000-token prompt").isGreaterThan(15);
    assertThat(seeing.tpotMs(2)).as("beside the 10-token prompt").isLessThan(8);
    assertThatThrownBy(() -> m.withKvCapacity(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kvCapacityTokens");
  }

  /**
   * A decode worker pulls a prompt's KV only when it has room for it, as an engine admits a request
   * only with blocks for its prompt: with room for two 100-token prompts (and what they generate),
   * the third waits in its prefill worker until the first has finished; without a capacity it
   * follows at once. The same holds for a colocated worker's chunked prefill.
   */
  @Test
  void aWorkerWithoutKvRoomHoldsBackTheNextPromptUntilOneFinishes() {
    StepModel m = new StepModel(10, 0, 10, 0, 0, 0, 0, 512, 8);
    SimTrace trace =
        new SimTrace(new double[] {0, 0, 0}, new int[] {100, 100, 100}, new int[] {11, 11, 11});
    FleetSimulator.Routing routing = new FleetSimulator.Routing("least-request", 0, 1);
    for (Fleet fleet : List.of(new Fleet(1, 1, 0), new Fleet(0, 0, 1))) {
      SimResult roomy = new FleetSimulator(fleet, m, trace, routing).run();
      SimResult tight = new FleetSimulator(fleet, m.withKvCapacity(250), trace, routing).run();
      double firstDone = tight.ttftMs(0) + tight.tpotMs(0) * 10;
      assertThat(roomy.ttftMs(2)).as(fleet.name()).isLessThan(firstDone);
      assertThat(tight.ttftMs(2)).as(fleet.name()).isGreaterThanOrEqualTo(firstDone);
      assertThat(tight.ttftMs(1)).as(fleet.name()).isCloseTo(roomy.ttftMs(1), within(1e-9));
      assertThat(tight.completed()).isEqualTo(3);
    }
  }

  @Test
  void decodeStepsPayForTheContextTheyRead() {
    // 0.01 ms per token of context: a lone request with a 100-token prompt decodes its tokens 2..11
    // with 101..110 tokens of KV, so its steps take 2 + 0.5 + 0.01 x (101..110).
    StepModel m = new StepModel(5, 0.1, 2, 0.5, 0.01, 3, 0.01, 512, 8);
    SimResult pd =
        new FleetSimulator(
                new Fleet(1, 1, 0), m, new SimWorkload(1, 1, 100, 11, SimWorkload.Lengths.FIXED, 1))
            .run();
    assertThat(pd.meanTpotMs()).isCloseTo(2.5 + 0.01 * 105.5, within(1e-9));
  }

  @Test
  void workersThatInterfereRunSlowerWhileTheOtherComputes() {
    // Prefill 100 ms, decode steps 10 ms alone; a prefill takes 1.5x and a decode step 2x as long
    // while the other worker computes. A: prefilled alone 0-100, then decodes 4 steps while B
    // prefills: 20 ms each, done at 180. B waited for A's prefill, prefilled 80 ms at 1/1.5 speed
    // (53.3 ms of its 100) and the rest alone: done at 226.7, TTFT 176.7, then decodes alone.
    StepModel m = new StepModel(100, 0, 10, 0, 0, 0, 0, 512, 8, 0.5, 1.0, 0, 0);
    SimTrace trace = new SimTrace(new double[] {0, 50}, new int[] {10, 10}, new int[] {5, 5});
    SimResult r =
        new FleetSimulator(
                new Fleet(1, 1, 0), m, trace, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    assertThat(r.ttftMs(0)).isCloseTo(100, within(1e-9));
    assertThat(r.tpotMs(0)).isCloseTo(20, within(1e-9));
    assertThat(r.ttftMs(1)).isCloseTo(226.0 + 2.0 / 3 - 50, within(1e-9));
    assertThat(r.tpotMs(1)).isCloseTo(10, within(1e-9));
    // Without interference the same requests take their step times alone.
    SimResult apart =
        new FleetSimulator(
                new Fleet(1, 1, 0),
                new StepModel(100, 0, 10, 0, 0, 0, 0, 512, 8),
                trace,
                new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    assertThat(apart.tpotMs(0)).isCloseTo(10, within(1e-9));
    assertThat(apart.ttftMs(1)).isCloseTo(150, within(1e-9));
  }

  @Test
  void aWorkerIsSlowedByWhatItsNeighbourDoes() {
    // Two colocated workers, prompts of one 100-token chunk (1 ms/token), decode steps 10 ms.
    // A prefill beside a prefill takes 1.2x as long, beside a decode 2x; a decode step beside a
    // prefill 1.5x, beside a decode 1.1x. A and B arrive together on different workers: both
    // prefill side by side, 120 ms. Then each decodes 2 more tokens beside the other's decode:
    // 11 ms a step.
    StepModel m = new StepModel(0, 1, 10, 0, 0, 0, 0, 512, 8, 1.0, 0.5, 0.2, 0.1);
    SimTrace trace = new SimTrace(new double[] {0, 0}, new int[] {100, 100}, new int[] {3, 3});
    SimResult r =
        new FleetSimulator(
                new Fleet(0, 0, 2), m, trace, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    for (int i = 0; i < 2; i++) {
      assertThat(r.ttftMs(i)).isCloseTo(120, within(1e-9));
      assertThat(r.tpotMs(i)).isCloseTo(11, within(1e-9));
    }
    // B arrives when A's prefill is done: A decodes 2 steps beside B's prefill (15 ms each, done
    // at 130); B prefills 30 ms at 1/2 speed (15 ms of its 100) and the rest alone: 100 + 30 + 85.
    SimTrace later = new SimTrace(new double[] {0, 100}, new int[] {100, 100}, new int[] {3, 3});
    SimResult s =
        new FleetSimulator(
                new Fleet(0, 0, 2), m, later, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    assertThat(s.ttftMs(0)).isCloseTo(100, within(1e-9));
    assertThat(s.tpotMs(0)).isCloseTo(15, within(1e-9));
    assertThat(s.ttftMs(1)).isCloseTo(115, within(1e-9));
  }

  @Test
  void aLoneRequestIsNotSlowedByInterference() {
    // Nobody else computes: the exact step times of aLoneRequestTakesExactlyItsStepTimes.
    StepModel m = new StepModel(5, 0.1, 2, 0.5, 0, 3, 0.01, 512, 8, 0.7, 0.9, 0.4, 0.3);
    SimWorkload one = new SimWorkload(1, 1, 100, 11, SimWorkload.Lengths.FIXED, 1);
    SimResult pd = new FleetSimulator(new Fleet(1, 1, 0), m, one).run();
    assertThat(pd.meanTtftMs()).isCloseTo(19, within(1e-9));
    assertThat(pd.meanTpotMs()).isCloseTo(2.5, within(1e-9));
  }

  /** A model of 10 ms decode steps, no interference, and the given jitter series. */
  private static StepModel jittered(double[] alone, double[] besidePrefill) {
    return new StepModel(100, 0, 10, 0, 0, 0, 0, 512, 8, 0, 0, 0, 0, alone, besidePrefill, 0, 0);
  }

  /** {@code requests} alike, one every {@code everyMs}. */
  private static SimTrace evenly(int requests, double everyMs, int prompt, int output) {
    double[] arrival = new double[requests];
    int[] prompts = new int[requests];
    int[] outputs = new int[requests];
    for (int i = 0; i < requests; i++) {
      arrival[i] = i * everyMs;
      prompts[i] = prompt;
      outputs[i] = output;
    }
    return new SimTrace(arrival, prompts, outputs);
  }

  /** Lone P/D requests far apart: each decodes by itself, 11 tokens (10 steps). */
  private static SimResult loneDecodes(StepModel m, int requests, long seed) {
    return new FleetSimulator(
            new Fleet(1, 1, 0),
            m,
            evenly(requests, 1_000, 10, 11),
            new FleetSimulator.Routing("least-request", 0, seed))
        .run();
  }

  @Test
  void decodeJitterKeepsTheMeanAndSpreadsTpotByItsMeasuredClusters() {
    // 100 steps: 90 a little fast (-0.5 ms), a cluster of 10 slow (+4.5 ms): mean 0. A request
    // reads 10 consecutive values from a random place, so one that lands wholly in the cluster
    // has a TPOT of 14.5 ms and one wholly outside 9.5 ms; the mean over many stays 10 ms.
    double[] series = new double[100];
    for (int i = 0; i < 100; i++) {
      series[i] = i >= 40 && i < 50 ? 4.5 : -0.5;
    }
    SimResult r = loneDecodes(jittered(series, new double[0]), 2_000, 3);
    assertThat(r.meanTpotMs()).isCloseTo(10, within(0.2));
    assertThat(r.tpotPercentileMs(50)).isCloseTo(9.5, within(1e-9));
    assertThat(r.tpotPercentileMs(99)).isCloseTo(14.5, within(1e-9));
    // The same seed gives the same run; without jitter every lone decode takes exactly 10 ms.
    SimResult again = loneDecodes(jittered(series, new double[0]), 2_000, 3);
    assertThat(again.tpotPercentileMs(75)).isEqualTo(r.tpotPercentileMs(75));
    SimResult flat = loneDecodes(jittered(new double[0], new double[0]), 100, 3);
    assertThat(flat.tpotPercentileMs(99)).isCloseTo(10, within(1e-9));
    assertThat(flat.tpotPercentileMs(1)).isCloseTo(10, within(1e-9));
  }

  @Test
  void decodeStepsBesideAPrefillReadTheSeriesMeasuredBesidePrefills() {
    // Alone: no jitter; beside a prefill: +5 ms a step. A (prompt 10, prefill 100 ms) decodes 4
    // steps while B, arriving at 100, prefills until 200: 15 ms each. B decodes alone: 10 ms.
    // Interference terms are on (prefillInterference only) so the fleet tracks who prefills.
    StepModel m =
        new StepModel(
            100,
            0,
            10,
            0,
            0,
            0,
            0,
            512,
            8,
            1e-9,
            0,
            0,
            0,
            new double[] {0},
            new double[] {5},
            0,
            0);
    SimTrace trace = new SimTrace(new double[] {0, 100}, new int[] {10, 10}, new int[] {5, 5});
    SimResult r =
        new FleetSimulator(
                new Fleet(1, 1, 0), m, trace, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    assertThat(r.tpotMs(0)).isCloseTo(15, within(1e-6));
    assertThat(r.tpotMs(1)).isCloseTo(10, within(1e-6));
  }

  @Test
  void aStepModelRefusesJitterThatIsNotANumber() {
    assertThatThrownBy(() -> jittered(new double[] {1, Double.NaN}, new double[0]))
        .hasMessageContaining("jitter");
    // A model file without the jitter terms (written before they existed) has none.
    StepModel old = new StepModel(1, 1, 1, 0, 0, 0, 0, 512, 8, 0, 0, 0, 0, null, null, 0, 0);
    assertThat(old.jitters()).isFalse();
  }

  @Test
  void aPrefillQueuedRightBehindAnotherTakesItsBackToBackTime() {
    // Prefill 100 ms on an idle worker, 0.8x right after another: A and B arrive together, A
    // finds the worker idle (TTFT 100), B follows it (80 ms more: TTFT 180); C arrives later at
    // an idle worker again (100).
    StepModel m =
        new StepModel(
            100, 0, 10, 0, 0, 0, 0, 512, 8, 0, 0, 0, 0, new double[0], new double[0], -0.2, 0);
    SimTrace trace =
        new SimTrace(new double[] {0, 0, 1_000}, new int[] {10, 10, 10}, new int[] {2, 2, 2});
    SimResult r =
        new FleetSimulator(
                new Fleet(1, 1, 0), m, trace, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    assertThat(r.ttftMs(0)).isCloseTo(100, within(1e-9));
    assertThat(r.ttftMs(1)).isCloseTo(180, within(1e-9));
    assertThat(r.ttftMs(2)).isCloseTo(100, within(1e-9));
    assertThatThrownBy(
            () ->
                new StepModel(
                    1, 0, 1, 0, 0, 0, 0, 512, 8, 0, 0, 0, 0, new double[0], new double[0], -1, 0))
        .hasMessageContaining("prefillBackToBack");
  }

  @Test
  void staleScrapedLoadSendsSomeRequestsToTheBusyWorker() {
    // Two colocated workers, prompts of 100 ms, one token each, one every 60 ms: by in-flight
    // counts the idle worker is always there (the one before is still running, the one before
    // that is done). The gateway's policies also read the last scrape of each worker: until the
    // next one, a worker that was busy then looks busy, ties with the really busy one, and the
    // random tie-break queues requests behind it.
    StepModel m = new StepModel(0, 1, 10, 0, 0, 0, 0, 512, 8);
    SimTrace trace = evenly(400, 60, 100, 1);
    SimResult fresh =
        new FleetSimulator(
                new Fleet(0, 0, 2), m, trace, new FleetSimulator.Routing("least-request", 0, 4))
            .run();
    assertThat(fresh.ttftPercentileMs(100)).isCloseTo(100, within(1e-9));
    SimResult scraped =
        new FleetSimulator(
                new Fleet(0, 0, 2),
                m,
                trace,
                new FleetSimulator.Routing("least-request", 0, 4, 1000))
            .run();
    assertThat(scraped.ttftPercentileMs(99)).isGreaterThan(140);
    assertThat(scraped.meanTtftMs()).isGreaterThan(110);
    assertThatThrownBy(() -> new FleetSimulator.Routing("least-request", 0, 1, -1))
        .hasMessageContaining("scrape");
  }

  /** Decode-bound: short prompts, long answers, steps that grow with the batch. */
  private static final StepModel DECODE_BOUND = new StepModel(1, 0.01, 4, 3, 0, 1, 0, 512, 64);

  @Test
  void moreDecodeWorkersLowerTpotUnderDecodeBoundLoad() {
    SimWorkload w = new SimWorkload(20, 4_000, 64, 200, SimWorkload.Lengths.EXPONENTIAL, 5);
    SimResult oneDecode = new FleetSimulator(new Fleet(1, 1, 0), DECODE_BOUND, w).run();
    SimResult threeDecode = new FleetSimulator(new Fleet(1, 3, 0), DECODE_BOUND, w).run();
    assertThat(threeDecode.tpotPercentileMs(50)).isLessThan(0.6 * oneDecode.tpotPercentileMs(50));
    assertThat(threeDecode.tpotPercentileMs(99)).isLessThan(oneDecode.tpotPercentileMs(99));
  }

  @Test
  void morePrefillWorkersLowerTtftUnderPrefillBoundLoad() {
    StepModel m = new StepModel(2, 0.2, 2, 0.1, 0, 1, 0, 512, 64);
    SimWorkload w = new SimWorkload(4, 3_000, 1000, 20, SimWorkload.Lengths.EXPONENTIAL, 6);
    SimResult oneP = new FleetSimulator(new Fleet(1, 3, 0), m, w).run();
    SimResult threeP = new FleetSimulator(new Fleet(3, 1, 0), m, w).run();
    assertThat(threeP.ttftPercentileMs(50)).isLessThan(0.5 * oneP.ttftPercentileMs(50));
  }

  @Test
  void replicaGroupsPickThePrefillWorkerAsAPoolDoesAndTieTheDecodeWorkerToIt() {
    // The gateway's replica mode (PairChoice) picks the prefill worker by the policy over every
    // prefill worker, as pool mode does, then the decode worker of its group: prompts wait the
    // same, but a request cannot move to an idler decode worker of another group, so decode
    // batches are uneven and tokens come slower.
    StepModel m = new StepModel(2, 0.1, 3, 1, 0, 1, 0, 512, 32);
    SimWorkload w = new SimWorkload(14, 20_000, 600, 100, SimWorkload.Lengths.EXPONENTIAL, 8);
    SimResult pool = new FleetSimulator(new Fleet(4, 4, 0, 1), m, w).run();
    SimResult replica = new FleetSimulator(new Fleet(4, 4, 0, 4), m, w).run();
    assertThat(pool.completed()).isEqualTo(replica.completed()).isEqualTo(20_000);
    assertThat(pool.meanTtftMs()).isCloseTo(replica.meanTtftMs(), within(1e-9));
    assertThat(pool.meanTpotMs()).isLessThan(replica.meanTpotMs());
    assertThat(pool.tpotPercentileMs(99)).isLessThan(replica.tpotPercentileMs(99));
  }

  @Test
  void aThresholdAboveEveryPromptMakesDecodeWorkersColocated() {
    StepModel m = new StepModel(2, 0.1, 3, 0.5, 0.001, 4, 0.01, 256, 16);
    SimWorkload w = new SimWorkload(3, 2_000, 300, 50, SimWorkload.Lengths.EXPONENTIAL, 9);
    SimTrace trace = w.trace();
    SimResult allLocal =
        new FleetSimulator(
                new Fleet(1, 1, 0),
                m,
                trace,
                new FleetSimulator.Routing("least-request", 1 << 30, 9))
            .run();
    SimResult colocated =
        new FleetSimulator(
                new Fleet(0, 0, 1), m, trace, new FleetSimulator.Routing("least-request", 0, 9))
            .run();
    assertThat(allLocal.meanTtftMs()).isEqualTo(colocated.meanTtftMs());
    assertThat(allLocal.tpotPercentileMs(99)).isEqualTo(colocated.tpotPercentileMs(99));
  }

  @Test
  void shortPromptsSkipASaturatedPrefillWorkerBelowTheThreshold() {
    // Half the prompts are long and keep the one prefill worker busy; the short ones (exponential
    // around 600, many below 100) gain most from being prefilled on the idle-ish decode worker.
    StepModel m = new StepModel(2, 0.3, 3, 0.5, 0, 5, 0, 512, 32);
    SimTrace trace =
        new SimWorkload(4, 4_000, 600, 30, SimWorkload.Lengths.EXPONENTIAL, 10).trace();
    SimResult never =
        new FleetSimulator(
                new Fleet(1, 2, 0), m, trace, new FleetSimulator.Routing("least-request", 0, 1))
            .run();
    SimResult below200 =
        new FleetSimulator(
                new Fleet(1, 2, 0), m, trace, new FleetSimulator.Routing("least-request", 200, 1))
            .run();
    assertThat(below200.ttftPercentileMs(50)).isLessThan(never.ttftPercentileMs(50));
  }

  @Test
  void replicaGroupsAndTracesAreChecked() {
    assertThatThrownBy(() -> new Fleet(3, 4, 0, 2)).hasMessageContaining("2 equal groups");
    assertThatThrownBy(() -> new Fleet(0, 0, 4, 2)).hasMessageContaining("equal groups");
    assertThat(new Fleet(2, 6, 0, 2).name()).isEqualTo("2x(1P3D)");
    assertThat(new Fleet(2, 6, 0).name()).isEqualTo("2P6D");
    assertThatThrownBy(() -> new SimTrace(new double[] {5, 1}, new int[] {1, 1}, new int[] {1, 1}))
        .hasMessageContaining("in order");
    assertThatThrownBy(() -> new SimTrace(new double[] {1}, new int[] {0}, new int[] {1}))
        .hasMessageContaining(">= 1");
    assertThatThrownBy(() -> new FleetSimulator.Routing("least-request", -1, 0))
        .hasMessageContaining("threshold");
  }
}
