package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The drain wait against a worker's /metrics: a loopback stand-in serving the gauges a Baton worker
 * exports (vLLM's request gauges and {@code baton_kv_leases}).
 */
class WorkerDrainTest {

  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger leases = new AtomicInteger();
  private final AtomicInteger scrapes = new AtomicInteger();

  /** Requests and leases end once the drain has polled this many times (-1: never). */
  private volatile int finishAfterScrapes = -1;

  private HttpServer server;
  private String url;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/metrics",
        exchange -> {
          if (scrapes.incrementAndGet() == finishAfterScrapes) {
            running.set(0);
            leases.set(0);
          }
          byte[] body =
              ("vllm:num_requests_running{model_name=\"m\"} "
                      + running.get()
                      + "\nvllm:num_requests_waiting{model_name=\"m\"} 0\n"
                      + "baton_kv_leases{model_name=\"m\"} "
                      + leases.get()
                      + "\n")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private static Instant in(Duration d) {
    return Instant.now().plus(d);
  }

  @Test
  void loadReadsRequestsAndLeases() {
    running.set(2);
    leases.set(3);
    assertThat(WorkerDrain.load(url)).isEqualTo(new WorkerDrain.Load(2, 0, 3));
    assertThat(WorkerDrain.load("http://127.0.0.1:1")).isNull();
  }

  @Test
  void anIdleWorkerIsDrainedAfterTheQuietPeriod() {
    long start = System.nanoTime();
    assertThat(WorkerDrain.awaitIdle(url, in(Duration.ofSeconds(10)), () -> true)).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(WorkerDrain.QUIET);
  }

  @Test
  void aBusyWorkerHoldsTheDrainUntilItsRequestsFinish() {
    running.set(2);
    finishAfterScrapes = 6;
    assertThat(WorkerDrain.awaitIdle(url, in(Duration.ofSeconds(10)), () -> true)).isTrue();
    assertThat(scrapes.get()).isGreaterThan(6);
  }

  @Test
  void aLiveKvLeaseHoldsTheDrainWithNoRequestRunning() {
    leases.set(1); // a finished prefill whose blocks no decode worker has pulled yet
    finishAfterScrapes = 8;
    long start = System.nanoTime();
    assertThat(WorkerDrain.awaitIdle(url, in(Duration.ofSeconds(10)), () -> true)).isTrue();
    assertThat(scrapes.get()).isGreaterThan(8);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(700).plus(WorkerDrain.QUIET));
  }

  @Test
  void aWorkerBusyAtTheDeadlineUnreadableOrGoneIsNotCalledDrained() {
    leases.set(1);
    assertThat(WorkerDrain.awaitIdle(url, in(Duration.ofMillis(800)), () -> true)).isFalse();
    assertThat(WorkerDrain.awaitIdle("http://127.0.0.1:1", in(Duration.ofMillis(500)), () -> true))
        .isFalse();
    leases.set(0);
    assertThat(WorkerDrain.awaitIdle(url, in(Duration.ofSeconds(5)), () -> false)).isFalse();
  }
}
