package dev.baton.bench;

import java.util.List;

/**
 * What the result reports.
 *
 * @param goodput SLOs for goodput ({@code --goodput})
 * @param percentileMetrics metrics with percentiles ({@code --percentile-metrics})
 * @param percentiles which percentiles ({@code --metric-percentiles})
 */
public record MetricsConfig(
    Goodput goodput, List<LatencyMetric> percentileMetrics, double[] percentiles) {

  public MetricsConfig {
    percentileMetrics = List.copyOf(percentileMetrics);
    percentiles = percentiles.clone();
  }

  /** TTFT, TPOT, ITL and E2EL at p90 and p99, no goodput. */
  public static MetricsConfig defaults() {
    return new MetricsConfig(Goodput.NONE, List.of(LatencyMetric.values()), new double[] {90, 99});
  }

  public MetricsConfig withGoodput(Goodput slo) {
    return new MetricsConfig(slo, percentileMetrics, percentiles);
  }
}
