package dev.baton.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The preStop drain against a worker's /metrics (a loopback stand-in in vLLM's format). */
class DrainTest {

  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger scrapes = new AtomicInteger();

  /** The requests finish once the drain has seen them this many times (-1: never). */
  private volatile int finishAfterScrapes = -1;

  private HttpServer server;
  private String url;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/metrics",
        exchange -> {
          if (scrapes.incrementAndGet() == finishAfterScrapes) {
            running.set(0);
          }
          byte[] body =
              ("vllm:num_requests_running " + running.get() + "\nvllm:num_requests_waiting 0\n")
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

  @Test
  void anIdleWorkerIsDrainedAfterTheQuietPeriod() throws Exception {
    long start = System.nanoTime();
    assertThat(Drain.awaitIdle(url, Duration.ofSeconds(10))).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Drain.QUIET);
  }

  @Test
  void aBusyWorkerHoldsTheDrainUntilItsRequestsFinish() throws Exception {
    running.set(2);
    finishAfterScrapes = 4; // busy for three polls (200 ms apart), then idle
    long start = System.nanoTime();
    assertThat(Drain.awaitIdle(url, Duration.ofSeconds(10))).isTrue();
    assertThat(scrapes.get()).isGreaterThan(4);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(600).plus(Drain.QUIET));
  }

  @Test
  void aWorkerStillBusyAtTheTimeoutOrUnreadableIsNotCalledDrained() throws Exception {
    running.set(1);
    assertThat(Drain.awaitIdle(url, Duration.ofMillis(800))).isFalse();
    assertThat(Drain.awaitIdle("http://127.0.0.1:1", Duration.ofMillis(500))).isFalse();
  }
}
