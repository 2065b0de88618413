package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PowerOfTwoPolicyTest {
  @Test
  void neverPicksTheMostLoadedOfMany() {
    List<Worker> ws = TestWorkers.workers(4);
    TestWorkers.load(ws.get(2), 100);
    PowerOfTwoPolicy p = new PowerOfTwoPolicy(new Random(11));
    for (int i = 0; i < 500; i++) {
      assertThat(p.choose(ws, TestWorkers.request())).isNotSameAs(ws.get(2));
    }
  }

  @Test
  void ofTwoAlwaysPicksTheLessLoaded() {
    List<Worker> ws = TestWorkers.workers(2);
    TestWorkers.load(ws.get(0), 3);
    PowerOfTwoPolicy p = new PowerOfTwoPolicy(new Random(5));
    for (int i = 0; i < 50; i++) {
      assertThat(p.choose(ws, TestWorkers.request())).isSameAs(ws.get(1));
    }
    assertThat(p.choose(ws.subList(0, 1), TestWorkers.request())).isSameAs(ws.get(0));
  }
}
