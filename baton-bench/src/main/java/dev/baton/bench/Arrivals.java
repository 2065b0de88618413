package dev.baton.bench;

import java.util.Random;

/**
 * Gaps between request arrivals as {@code vllm bench serve} draws them: gamma-distributed with
 * shape = burstiness and mean 1/rate (shape 1 is a Poisson process, smaller is burstier). An
 * infinite rate gives no gaps.
 */
public final class Arrivals {

  private final double rate;
  private final double shape;
  private final Random random;

  public Arrivals(double rate, double burstiness, long seed) {
    this.rate = rate;
    this.shape = burstiness;
    this.random = new Random(seed);
  }

  /** The next gap in nanoseconds. */
  public long nextGapNanos() {
    if (Double.isInfinite(rate)) {
      return 0;
    }
    double scale = 1.0 / (rate * shape);
    return Math.round(gamma(random, shape) * scale * 1e9);
  }

  /** A Gamma(shape, 1) sample (Marsaglia and Tsang; boosted for shape < 1). */
  static double gamma(Random random, double shape) {
    if (shape < 1) {
      double u = random.nextDouble();
      return gamma(random, shape + 1) * Math.pow(u, 1 / shape);
    }
    double d = shape - 1.0 / 3;
    double c = 1 / Math.sqrt(9 * d);
    while (true) {
      double x;
      double v;
      do {
        x = random.nextGaussian();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      double u = random.nextDouble();
      if (u < 1 - 0.0331 * x * x * x * x) {
        return d * v;
      }
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
        return d * v;
      }
    }
  }
}
