package dev.baton.sim;

/**
 * The requests a simulation serves: arrival times (ms from the start, non-decreasing), prompt and
 * output lengths in tokens. Built from a {@link SimWorkload} or replayed from a real benchmark's
 * requests.
 */
public record SimTrace(double[] arrivalMs, int[] prompt, int[] output) {

  public SimTrace {
    if (arrivalMs.length == 0) {
      throw new IllegalArgumentException("a trace needs at least one request");
    }
    if (prompt.length != arrivalMs.length || output.length != arrivalMs.length) {
      throw new IllegalArgumentException("arrivals, prompt and output lengths differ in count");
    }
    for (int r = 0; r < arrivalMs.length; r++) {
      if (!(arrivalMs[r] >= (r == 0 ? 0 : arrivalMs[r - 1])) || Double.isInfinite(arrivalMs[r])) {
        throw new IllegalArgumentException("arrival times must be finite, >= 0 and in order");
      }
      if (prompt[r] < 1 || output[r] < 1) {
        throw new IllegalArgumentException("prompt and output lengths must be >= 1");
      }
    }
  }

  public int requests() {
    return arrivalMs.length;
  }
}
