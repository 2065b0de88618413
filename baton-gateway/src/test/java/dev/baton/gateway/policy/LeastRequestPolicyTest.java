package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LeastRequestPolicyTest {
  @Test
  void picksTheWorkerWithFewestRequests() {
    List<Worker> ws = TestWorkers.workers(3);
    TestWorkers.load(ws.get(0), 5);
    TestWorkers.load(ws.get(1), 1);
    TestWorkers.load(ws.get(2), 3);
    assertThat(new LeastRequestPolicy(new Random(1)).choose(ws, TestWorkers.request()))
        .isSameAs(ws.get(1));
  }

  @Test
  void scrapedLoadCountsWhenItIsHigherThanOurOwn() {
    List<Worker> ws = TestWorkers.workers(2);
    TestWorkers.load(ws.get(0), 1);
    ws.get(1).scraped(4, 2, 0);
    assertThat(new LeastRequestPolicy(new Random(1)).choose(ws, TestWorkers.request()))
        .isSameAs(ws.get(0));
  }

  @Test
  void aBurstIsSpreadAcrossWorkers() {
    List<Worker> ws = TestWorkers.workers(4);
    LeastRequestPolicy p = new LeastRequestPolicy(new Random(3));
    Set<Worker> used = new HashSet<>();
    for (int i = 0; i < 8; i++) {
      Worker w = p.choose(ws, TestWorkers.request());
      w.begin(false);
      used.add(w);
    }
    assertThat(used).hasSize(4);
    assertThat(ws).allSatisfy(w -> assertThat(w.inFlight()).isEqualTo(2));
  }
}
