package dev.baton.sim;

import java.util.SplittableRandom;

/**
 * The requests: Poisson arrivals at {@code ratePerS}; prompt and output lengths either fixed or
 * exponentially distributed around their means.
 */
public record SimWorkload(
    double ratePerS, int requests, int inputLen, int outputLen, Lengths lengths, long seed) {

  /** How lengths vary around their means. */
  public enum Lengths {
    FIXED,
    EXPONENTIAL
  }

  public SimWorkload {
    if (!(ratePerS > 0) || Double.isInfinite(ratePerS)) {
      throw new IllegalArgumentException("rate must be a positive number");
    }
    if (requests < 1 || inputLen < 1 || outputLen < 1) {
      throw new IllegalArgumentException("requests, input and output lengths must be >= 1");
    }
  }

  /** The requests, drawn from {@code seed}: arrival gap, prompt and output length in turn. */
  public SimTrace trace() {
    SplittableRandom random = new SplittableRandom(seed);
    double[] arrival = new double[requests];
    int[] prompt = new int[requests];
    int[] output = new int[requests];
    double t = 0;
    for (int r = 0; r < requests; r++) {
      t += gapMs(random);
      arrival[r] = t;
      prompt[r] = draw(random, inputLen);
      output[r] = draw(random, outputLen);
    }
    return new SimTrace(arrival, prompt, output);
  }

  /** Draws one length with mean {@code mean} (at least 1). */
  private int draw(SplittableRandom random, int mean) {
    if (lengths == Lengths.FIXED) {
      return mean;
    }
    return (int) Math.max(1, Math.round(-Math.log(1 - random.nextDouble()) * mean));
  }

  /** Milliseconds to the next arrival. */
  private double gapMs(SplittableRandom random) {
    return -Math.log(1 - random.nextDouble()) * 1000 / ratePerS;
  }
}
