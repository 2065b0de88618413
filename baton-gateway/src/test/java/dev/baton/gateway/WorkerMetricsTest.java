package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WorkerMetricsTest {
  @Test
  void readsKvUsageFromVllmMetricsText() {
    WorkerMetrics m =
        WorkerMetrics.parse(
            """
            # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
            # TYPE vllm:kv_cache_usage_perc gauge
            vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
            vllm:num_requests_running{engine="0",model_name="m"} 3.0
            vllm:num_requests_running{engine="1",model_name="m"} 2.0
            vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
            vllm:num_requests_waiting_by_reason{reason="x"} 9.0
            """);
    assertThat(m.kvCacheUsage()).isEqualTo(0.25);
    assertThat(m.running()).isEqualTo(5.0);
    assertThat(m.waiting()).isEqualTo(1.0);
    assertThat(WorkerMetrics.parse("vllm:gpu_cache_usage_perc 0.5\n").kvCacheUsage())
        .isEqualTo(0.5);
  }

  @Test
  void readsSglangMetricNames() {
    WorkerMetrics m =
        WorkerMetrics.parse(
            """
            # TYPE sglang:num_running_reqs gauge
            sglang:num_running_reqs{model_name="m",engine_type="unified",tp_rank="0"} 4.0
            sglang:num_queue_reqs{model_name="m",engine_type="unified",tp_rank="0"} 2.0
            sglang:token_usage{model_name="m",engine_type="unified",tp_rank="0"} 0.4
            sglang:gen_throughput{model_name="m",engine_type="unified",tp_rank="0"} 120.0
            """);
    assertThat(m.running()).isEqualTo(4.0);
    assertThat(m.waiting()).isEqualTo(2.0);
    assertThat(m.kvCacheUsage()).isEqualTo(0.4);
  }
}
