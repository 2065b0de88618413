package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Killing a prefill and a decode worker (stand-ins, stopped as a killed process stops) during 200
 * streaming requests: every request completes through retry or migration, or gets a clear error;
 * none hangs; the killed workers take traffic again once they are back and healthy.
 */
class FaultToleranceTest {

  @Test
  void killsDuringAStreamingRunLoseNoRequest() throws Exception {
    List<VllmStandIn> all = new ArrayList<>();
    VllmStandIn p1 = new VllmStandIn(VllmStandIn.Kind.PREFILL, "m");
    VllmStandIn p2 = new VllmStandIn(VllmStandIn.Kind.PREFILL, "m");
    VllmStandIn d1 = new VllmStandIn(VllmStandIn.Kind.DECODE, "m");
    VllmStandIn d2 = new VllmStandIn(VllmStandIn.Kind.DECODE, "m");
    all.addAll(List.of(p1, p2, d1, d2));
    for (VllmStandIn w : all) {
      w.chunkDelayMs = 4;
    }
    String yaml =
        """
        health: {interval_ms: 100, failure_threshold: 2, open_ms: 300}
        retry: {max_attempts: 4, backoff_ms: 10}
        pools:
          - name: pd
            mode: nixl
            policy: least-request
            workers:
              - {url: "%s", role: prefill}
              - {url: "%s", role: prefill}
              - {url: "%s", role: decode}
              - {url: "%s", role: decode}
        """
            .formatted(p1.url(), p2.url(), d1.url(), d2.url());
    String expected = " w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15";
    try (Gateway g = new Gateway(GatewayConfig.parseYaml(yaml), null, null).start(0);
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
      Semaphore concurrency = new Semaphore(20);
      AtomicInteger finished = new AtomicInteger();
      List<CompletableFuture<HttpResponse<String>>> results = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String body =
            "{\"model\":\"m\",\"prompt\":\"req " + i + "\",\"max_tokens\":16,\"stream\":true}";
        concurrency.acquire();
        results.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return Http.post(url, body);
                  } finally {
                    finished.incrementAndGet();
                    concurrency.release();
                  }
                },
                pool));
        if (i == 60) {
          p1.kill();
          d1.kill();
        }
      }
      int completed = 0;
      int clearErrors = 0;
      for (var f : results) {
        HttpResponse<String> r = f.get(); // Http's own 30 s timeout turns a hang into a failure
        if (r.statusCode() == 200 && Http.text(r.body(), false).equals(expected)) {
          assertThat(Http.endsWithDone(r.body())).isTrue();
          completed++;
        } else {
          assertThat(r.statusCode() >= 500 || r.body().contains("\"error\"")).as(r.body()).isTrue();
          clearErrors++;
        }
      }
      System.out.printf(
          "fault run: %d completed, %d clear errors of 200%n", completed, clearErrors);
      assertThat(completed + clearErrors).isEqualTo(200);
      assertThat(completed).isGreaterThanOrEqualTo(195);
      String metrics = Http.get("http://127.0.0.1:" + g.port() + "/metrics").body();
      assertThat(metrics).contains("baton_gateway_ejections_total");

      p1.restart();
      d1.restart();
      Worker wp1 = g.pool("pd").find(p1.url());
      Worker wd1 = g.pool("pd").find(d1.url());
      await().atMost(Duration.ofSeconds(10)).until(() -> wp1.available() && wd1.available());
      int before = p1.requests() + d1.requests();
      for (int i = 0; i < 10; i++) {
        assertThat(Http.post(url, "{\"prompt\":\"after\",\"max_tokens\":2}").statusCode())
            .isEqualTo(200);
      }
      assertThat(p1.requests() + d1.requests()).isGreaterThan(before);
    } finally {
      for (VllmStandIn w : all) {
        w.close();
      }
    }
  }
}
