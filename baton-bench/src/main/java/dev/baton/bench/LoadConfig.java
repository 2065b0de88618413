package dev.baton.bench;

import java.time.Duration;

/**
 * How requests arrive.
 *
 * @param requestRate requests per second ({@code --request-rate}); infinite sends all at once
 * @param burstiness gamma shape of the gaps ({@code --burstiness}); 1 is a Poisson process
 * @param maxConcurrency at most this many requests in flight ({@code --max-concurrency}); 0 = no
 *     limit
 * @param duration stop sending after this long ({@code --duration}); null sends the whole dataset
 * @param warmups requests sent before measuring and left out of the metrics ({@code --warmup})
 * @param seed seeds the arrival gaps ({@code --seed})
 */
public record LoadConfig(
    double requestRate,
    double burstiness,
    int maxConcurrency,
    Duration duration,
    int warmups,
    long seed) {

  public LoadConfig {
    if (!(requestRate > 0)) {
      throw new IllegalArgumentException("--request-rate must be > 0 (or inf)");
    }
    if (!(burstiness > 0) || Double.isInfinite(burstiness)) {
      throw new IllegalArgumentException("--burstiness must be a positive number");
    }
    if (maxConcurrency < 0) {
      throw new IllegalArgumentException("--max-concurrency must be >= 1");
    }
    if (duration != null && (duration.isNegative() || duration.isZero())) {
      throw new IllegalArgumentException("--duration must be positive");
    }
    if (duration != null && Double.isInfinite(requestRate) && maxConcurrency == 0) {
      throw new IllegalArgumentException(
          "--duration with --request-rate inf needs --max-concurrency (else requests never end)");
    }
    if (warmups < 0) {
      throw new IllegalArgumentException("--warmup must be >= 0");
    }
  }

  /** All at once, no limits: vLLM's default. */
  public static LoadConfig allAtOnce() {
    return new LoadConfig(Double.POSITIVE_INFINITY, 1.0, 0, null, 0, 0);
  }

  public static LoadConfig poisson(double rate, long seed) {
    return new LoadConfig(rate, 1.0, 0, null, 0, seed);
  }

  public LoadConfig withRate(double rate) {
    return new LoadConfig(rate, burstiness, maxConcurrency, duration, warmups, seed);
  }

  public LoadConfig withMaxConcurrency(int limit) {
    return new LoadConfig(requestRate, burstiness, limit, duration, warmups, seed);
  }

  public LoadConfig withSeed(long newSeed) {
    return new LoadConfig(requestRate, burstiness, maxConcurrency, duration, warmups, newSeed);
  }

  public LoadConfig withWarmups(int n) {
    return new LoadConfig(requestRate, burstiness, maxConcurrency, duration, n, seed);
  }

  public LoadConfig withDuration(Duration d) {
    return new LoadConfig(requestRate, burstiness, maxConcurrency, d, warmups, seed);
  }
}
