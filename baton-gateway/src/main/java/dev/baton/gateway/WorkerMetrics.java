package dev.baton.gateway;

import dev.baton.core.PrometheusText;

/**
 * The load numbers the gateway reads from a worker's Prometheus text, summed over label sets (the
 * KV usage averaged). vLLM (and Baton) name them {@code vllm:num_requests_running}, {@code
 * vllm:num_requests_waiting} and {@code vllm:kv_cache_usage_perc} (older vLLM: {@code
 * vllm:gpu_cache_usage_perc}); SGLang {@code sglang:num_running_reqs}, {@code
 * sglang:num_queue_reqs} and {@code sglang:token_usage} (the fraction of KV token slots in use).
 */
record WorkerMetrics(double running, double waiting, double kvCacheUsage) {

  static WorkerMetrics parse(String text) {
    PrometheusText metrics = PrometheusText.parse(text);
    double kv = 0;
    int kvSeries = 0;
    for (PrometheusText.Sample s : metrics.samples()) {
      if (s.name().equals("vllm:kv_cache_usage_perc")
          || s.name().equals("vllm:gpu_cache_usage_perc")
          || s.name().equals("sglang:token_usage")) {
        kv += s.value();
        kvSeries++;
      }
    }
    return new WorkerMetrics(
        metrics.sum("vllm:num_requests_running") + metrics.sum("sglang:num_running_reqs"),
        metrics.sum("vllm:num_requests_waiting") + metrics.sum("sglang:num_queue_reqs"),
        kvSeries == 0 ? 0 : kv / kvSeries);
  }
}
