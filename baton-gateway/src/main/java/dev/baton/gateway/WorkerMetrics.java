package dev.baton.gateway;

import dev.baton.core.PrometheusText;

/**
 * The load numbers the gateway reads from a worker's Prometheus text: {@code
 * vllm:num_requests_running}, {@code vllm:num_requests_waiting} and {@code
 * vllm:kv_cache_usage_perc} (older vLLM: {@code vllm:gpu_cache_usage_perc}), summed over label sets
 * (the KV usage averaged).
 */
record WorkerMetrics(double running, double waiting, double kvCacheUsage) {

  static WorkerMetrics parse(String text) {
    PrometheusText metrics = PrometheusText.parse(text);
    double kv = 0;
    int kvSeries = 0;
    for (PrometheusText.Sample s : metrics.samples()) {
      if (s.name().equals("vllm:kv_cache_usage_perc")
          || s.name().equals("vllm:gpu_cache_usage_perc")) {
        kv += s.value();
        kvSeries++;
      }
    }
    return new WorkerMetrics(
        metrics.sum("vllm:num_requests_running"),
        metrics.sum("vllm:num_requests_waiting"),
        kvSeries == 0 ? 0 : kv / kvSeries);
  }
}
