package dev.baton.sim;

/**
 * The workers a simulated cluster has: a P/D pool of {@code prefill} + {@code decode} workers and a
 * pool of {@code colocated} workers that do both. A request goes to the P/D pool when it has one,
 * else to the colocated pool.
 *
 * <p>{@code groups} > 1 is replica mode (docs/CLUSTER_SPEC.md): the P/D workers form that many
 * equal groups of {@code prefill / groups} + {@code decode / groups}, and a request's prefill and
 * decode workers come from one group, as the gateway routes when workers carry a group. One group
 * is pool mode: any prefill worker hands off to any decode worker.
 */
public record Fleet(int prefill, int decode, int colocated, int groups) {

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
    if (groups < 1) {
      throw new IllegalArgumentException("groups must be >= 1");
    }
    if (groups > 1 && (prefill % groups != 0 || decode % groups != 0 || prefill == 0)) {
      throw new IllegalArgumentException(
          "replica mode needs prefill and decode workers divisible into "
              + groups
              + " equal groups (have "
              + prefill
              + "P"
              + decode
              + "D)");
    }
  }

  /** Pool mode. */
  public Fleet(int prefill, int decode, int colocated) {
    this(prefill, decode, colocated, 1);
  }

  /** Whether requests go the disaggregated way. */
  public boolean disaggregated() {
    return prefill > 0;
  }

  public int workers() {
    return prefill + decode + colocated;
  }

  /** A short name: {@code 2P6D}, {@code 2x(1P3D)} in replica mode, {@code 4 colocated}. */
  public String name() {
    String pd =
        groups > 1
            ? groups + "x(" + prefill / groups + "P" + decode / groups + "D)"
            : prefill + "P" + decode + "D";
    if (!disaggregated()) {
      return colocated + " colocated";
    }
    return colocated > 0 ? pd + "+" + colocated + "C" : pd;
  }
}
