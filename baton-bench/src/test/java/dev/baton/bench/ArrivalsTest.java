package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Arrival gaps: gamma with shape = burstiness and mean 1/rate. */
class ArrivalsTest {

  @ParameterizedTest
  @ValueSource(doubles = {0.3, 1.0, 4.0})
  void gammaSamplesHaveTheRightMeanAndVariance(double shape) {
    Random random = new Random(42);
    int n = 200_000;
    double sum = 0;
    double squares = 0;
    for (int i = 0; i < n; i++) {
      double x = Arrivals.gamma(random, shape);
      sum += x;
      squares += x * x;
    }
    double mean = sum / n;
    double variance = squares / n - mean * mean;
    assertThat(mean).isCloseTo(shape, within(0.02 * shape + 0.01));
    assertThat(variance).isCloseTo(shape, within(0.05 * shape + 0.01));
  }

  @ParameterizedTest
  @ValueSource(doubles = {0.5, 1.0, 2.0})
  void gapsAverageOneOverRate(double burstiness) {
    Arrivals arrivals = new Arrivals(50, burstiness, 7);
    long total = 0;
    int n = 100_000;
    for (int i = 0; i < n; i++) {
      total += arrivals.nextGapNanos();
    }
    assertThat(total / (double) n / 1e9).isCloseTo(1 / 50.0, within(0.0005));
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2})
  void sameSeedSameGapsAndInfiniteRateNoGaps(long seed) {
    Arrivals a = new Arrivals(10, 1, seed);
    Arrivals b = new Arrivals(10, 1, seed);
    for (int i = 0; i < 100; i++) {
      assertThat(a.nextGapNanos()).isEqualTo(b.nextGapNanos());
    }
    assertThat(new Arrivals(Double.POSITIVE_INFINITY, 1, seed).nextGapNanos()).isZero();
  }
}
