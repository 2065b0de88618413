package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoundRobinPolicyTest {
  @Test
  void takesCandidatesInTurn() {
    List<Worker> ws = TestWorkers.workers(3);
    RoundRobinPolicy p = new RoundRobinPolicy();
    for (int i = 0; i < 9; i++) {
      assertThat(p.choose(ws, TestWorkers.request())).isSameAs(ws.get(i % 3));
    }
  }

  @Test
  void copesWithAShrinkingCandidateList() {
    List<Worker> ws = TestWorkers.workers(3);
    RoundRobinPolicy p = new RoundRobinPolicy();
    p.choose(ws, TestWorkers.request());
    p.choose(ws, TestWorkers.request());
    assertThat(p.choose(ws.subList(0, 1), TestWorkers.request())).isSameAs(ws.get(0));
  }
}
