package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RandomPolicyTest {
  @Test
  void spreadsUniformly() {
    List<Worker> ws = TestWorkers.workers(4);
    RandomPolicy p = new RandomPolicy(new Random(7));
    Map<Worker, Integer> counts = new HashMap<>();
    for (int i = 0; i < 4000; i++) {
      counts.merge(p.choose(ws, TestWorkers.request()), 1, Integer::sum);
    }
    assertThat(counts).hasSize(4);
    assertThat(counts.values()).allSatisfy(c -> assertThat(c).isBetween(850, 1150));
    assertThat(p.name()).isEqualTo("random");
  }
}
