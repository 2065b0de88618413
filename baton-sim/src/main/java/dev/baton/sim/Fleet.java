package dev.baton.sim;

/**
 * The workers a simulated cluster has: a P/D pool of {@code prefill} + {@code decode} workers and a
 * pool of {@code colocated} workers that do both. A request goes to the P/D pool when it has one,
 * else to the colocated pool.
 */
public record Fleet(int prefill, int decode, int colocated) {

  public Fleet {
    if (prefill < 0 || decode < 0 || colocated < 0) {
      throw new IllegalArgumentException("worker counts must be >= 0");
    }
    if ((prefill == 0) != (decode == 0)) {
      throw new IllegalArgumentException("a P/D pool needs at least one prefill and one decode");
    }
    if (prefill + colocated == 0) {
      throw new IllegalArgumentException("the fleet has no workers");
    }
  }

  /** Whether requests go the disaggregated way. */
  public boolean disaggregated() {
    return prefill > 0;
  }

  public int workers() {
    return prefill + decode + colocated;
  }
}
