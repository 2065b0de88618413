package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SessionAffinityPolicyTest {
  private static RouteRequest session(String id) {
    return RouteRequest.of(id, new long[0], null);
  }

  @Test
  void sameSessionSameWorkerEvenWhenLoaded() {
    List<Worker> ws = TestWorkers.workers(3);
    SessionAffinityPolicy p = new SessionAffinityPolicy(new Random(1), 100);
    Worker first = p.choose(ws, session("s1"));
    TestWorkers.load(first, 10);
    for (int i = 0; i < 5; i++) {
      assertThat(p.choose(ws, session("s1"))).isSameAs(first);
    }
    assertThat(p.choose(ws, session("s2"))).isNotSameAs(first);
  }

  @Test
  void movesWhenItsWorkerIsNoLongerACandidateAndStaysMoved() {
    List<Worker> ws = TestWorkers.workers(3);
    SessionAffinityPolicy p = new SessionAffinityPolicy(new Random(2), 100);
    Worker first = p.choose(ws, session("s"));
    List<Worker> without = ws.stream().filter(w -> w != first).toList();
    Worker moved = p.choose(without, session("s"));
    assertThat(moved).isNotSameAs(first);
    assertThat(p.choose(ws, session("s"))).isSameAs(moved);
  }

  @Test
  void sessionTableIsBounded() {
    List<Worker> ws = TestWorkers.workers(2);
    SessionAffinityPolicy p = new SessionAffinityPolicy(new Random(3), 1000);
    for (int i = 0; i < 10_000; i++) {
      p.choose(ws, session("s" + i));
    }
    assertThat(p.sessions()).isEqualTo(1000);
  }
}
