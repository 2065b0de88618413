package dev.baton.sim;

import java.util.Locale;

/**
 * The scale benchmark (not a unit test; run by hand, numbers in docs/PERFORMANCE.md): 1,000 workers
 * (300 prefill + 700 decode) and 1,000,000 requests on one thread.
 *
 * <pre>
 * mvn -q -pl baton-sim test-compile &amp;&amp; java -cp baton-sim/target/classes:baton-sim/target/test-classes \
 *   dev.baton.sim.SimScaleBench
 * </pre>
 */
public final class SimScaleBench {

  private SimScaleBench() {}

  public static void main(String[] args) {
    // As `baton sim` runs by default: decode jitter from a calibrated series (here 2,000 steps of
    // a 1 ms stall every 50) and the gateway's load scraped once a second.
    double[] jitter = new double[2_000];
    for (int i = 0; i < jitter.length; i++) {
      jitter[i] = i % 50 == 0 ? 0.98 : -0.02;
    }
    StepModel model =
        new StepModel(
            2, 0.2, 5, 0.5, 0, 3, 0.005, 512, 64, 0, 0, 0, 0, jitter, new double[0], 0, 0);
    SimWorkload workload =
        new SimWorkload(2000, 1_000_000, 512, 128, SimWorkload.Lengths.EXPONENTIAL, 1);
    FleetSimulator.Routing routing =
        new FleetSimulator.Routing(FleetSimulator.DEFAULT_POLICY, 0, workload.seed(), 1000);
    for (int run = 1; run <= 3; run++) {
      long start = System.nanoTime();
      SimResult r =
          new FleetSimulator(new Fleet(300, 700, 0), model, workload.trace(), routing).run();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "run %d: %d requests on 1000 workers in %.1f s wall (simulated %.0f s); p99 TTFT %.0f"
              + " ms, p99 TPOT %.1f ms%n",
          run,
          r.completed(),
          seconds,
          r.durationMs() / 1000,
          r.ttftPercentileMs(99),
          r.tpotPercentileMs(99));
    }
  }
}
