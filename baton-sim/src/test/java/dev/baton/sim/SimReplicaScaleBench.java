package dev.baton.sim;

import java.util.Locale;

/**
 * Replica mode at scale: 1,000 workers as 100 groups of 3P7D, 10^6 requests, routed through the
 * gateway's {@code PairChoice} with {@code least-request} and with the {@code pd} pair policy
 * (which reads the scraped KV usage). Not a test: run by hand, docs/PERFORMANCE.md.
 */
public final class SimReplicaScaleBench {

  private SimReplicaScaleBench() {}

  public static void main(String[] args) {
    StepModel model = new StepModel(2, 0.2, 5, 0.5, 0, 3, 0.005, 512, 64).withKvCapacity(200_000);
    SimWorkload workload =
        new SimWorkload(2000, 1_000_000, 512, 128, SimWorkload.Lengths.EXPONENTIAL, 1);
    for (String policy : new String[] {"least-request", "pd"}) {
      long start = System.nanoTime();
      SimResult r =
          new FleetSimulator(
                  new Fleet(300, 700, 0, 100),
                  model,
                  workload.trace(),
                  new FleetSimulator.Routing(policy, 0, workload.seed(), 1000))
              .run();
      System.out.printf(
          Locale.ROOT,
          "%s, 100x(3P7D): %d requests in %.1f s wall; p99 TTFT %.0f ms, p99 TPOT %.1f ms%n",
          policy,
          r.completed(),
          (System.nanoTime() - start) / 1e9,
          r.ttftPercentileMs(99),
          r.tpotPercentileMs(99));
    }
  }
}
