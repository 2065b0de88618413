package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeastKvCachePolicyTest {
  @Test
  void picksTheLowestScrapedKvUsage() {
    List<Worker> ws = TestWorkers.workers(3);
    ws.get(0).scraped(0, 0, 0.7);
    ws.get(1).scraped(0, 0, 0.2);
    ws.get(2).scraped(0, 0, 0.5);
    assertThat(new LeastKvCachePolicy().choose(ws, TestWorkers.request())).isSameAs(ws.get(1));
  }

  @Test
  void tiesGoToTheLessLoaded() {
    List<Worker> ws = TestWorkers.workers(2);
    TestWorkers.load(ws.get(0), 2);
    assertThat(new LeastKvCachePolicy().choose(ws, TestWorkers.request())).isSameAs(ws.get(1));
  }
}
