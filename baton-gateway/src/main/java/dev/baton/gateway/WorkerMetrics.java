package dev.baton.gateway;

/**
 * The load numbers the gateway reads from a worker's Prometheus text: {@code
 * vllm:num_requests_running}, {@code vllm:num_requests_waiting} and {@code
 * vllm:kv_cache_usage_perc} (older vLLM: {@code vllm:gpu_cache_usage_perc}), summed over label
 * sets.
 */
record WorkerMetrics(double running, double waiting, double kvCacheUsage) {

  static WorkerMetrics parse(String text) {
    double running = 0;
    double waiting = 0;
    double kv = 0;
    int kvSeries = 0;
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.charAt(0) == '#') {
        continue;
      }
      String name = metricName(line);
      switch (name) {
        case "vllm:num_requests_running" -> running += value(line);
        case "vllm:num_requests_waiting" -> waiting += value(line);
        case "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc" -> {
          kv += value(line);
          kvSeries++;
        }
        default -> {}
      }
    }
    return new WorkerMetrics(running, waiting, kvSeries == 0 ? 0 : kv / kvSeries);
  }

  private static String metricName(String line) {
    int end = 0;
    while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
      end++;
    }
    return line.substring(0, end);
  }

  private static double value(String line) {
    int close = line.lastIndexOf('}');
    String rest =
        (close >= 0 ? line.substring(close + 1) : line.substring(line.indexOf(' '))).trim();
    int space = rest.indexOf(' ');
    String v = space < 0 ? rest : rest.substring(0, space);
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
