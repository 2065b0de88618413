package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.baton.core.Role;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class MetricsScraperTest {

  private static WorkerSlot worker(String id, Role role, String url) {
    return new WorkerSlot(id + "#1", id, role, null, 1, url, EngineType.BATON);
  }

  private static String metrics(double running, double waiting, long fastTtft, long slowTtft) {
    return """
        vllm:num_requests_running{model_name="m"} %s
        vllm:num_requests_waiting{model_name="m"} %s
        vllm:kv_cache_usage_perc{model_name="m"} 0.5
        vllm:time_to_first_token_seconds_bucket{le="0.1"} %d
        vllm:time_to_first_token_seconds_bucket{le="1.0"} %d
        vllm:time_to_first_token_seconds_bucket{le="+Inf"} %d
        """
        .formatted(running, waiting, fastTtft, fastTtft + slowTtft, fastTtft + slowTtft);
  }

  @Test
  void sampleCoversOnlyTheIntervalSinceTheLastScrape() {
    MetricsScraper scraper = new MetricsScraper();
    WorkerSlot p = worker("prefill-0", Role.PREFILL, "http://x");
    // First interval: 100 fast first tokens -> p90 within the first bucket.
    MetricSample first =
        scraper.sample(
            "prefill", List.of(MetricsScraper.parse(p, metrics(2, 3, 100, 0))), 1, Instant.now());
    assertThat(first.running()).isEqualTo(2);
    assertThat(first.waiting()).isEqualTo(3);
    assertThat(first.kvUsage()).isEqualTo(0.5);
    assertThat(first.ttftP90Seconds()).isLessThanOrEqualTo(0.1);
    // Second interval: only 50 slow ones were added; the old fast ones must not dilute them.
    MetricSample second =
        scraper.sample(
            "prefill", List.of(MetricsScraper.parse(p, metrics(0, 0, 100, 50))), 1, Instant.now());
    assertThat(second.ttftP90Seconds()).isGreaterThan(0.1);
  }

  @Test
  void unitsTakeOnlyTheirMembersAndDecodeWorkersGiveNoTtft() {
    MetricsScraper scraper = new MetricsScraper();
    WorkerSlot d = worker("decode-0", Role.DECODE, "http://x");
    WorkerSlot p = worker("prefill-0", Role.PREFILL, "http://y");
    var both =
        List.of(
            MetricsScraper.parse(d, metrics(5, 0, 10, 0)),
            MetricsScraper.parse(p, metrics(1, 1, 10, 0)));
    MetricSample decode = scraper.sample("decode", both, 1, Instant.now());
    assertThat(decode.running()).isEqualTo(5);
    assertThat(decode.ttftP90Seconds()).isNull();
    assertThat(decode.replicas()).isEqualTo(1);
  }

  @Test
  void scrapeReadsALiveWorkerAndNothingFromAnUnreadableOne() throws Exception {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/metrics",
        ex -> {
          byte[] body = metrics(2, 1, 0, 0).getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    server.start();
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort();
      assertThat(MetricsScraper.scrape(worker("both-0", Role.BOTH, url)).kvUsage()).isEqualTo(0.5);
    } finally {
      server.stop(0);
    }
    assertThat(MetricsScraper.scrape(worker("both-0", Role.BOTH, "http://127.0.0.1:1"))).isNull();
  }
}
