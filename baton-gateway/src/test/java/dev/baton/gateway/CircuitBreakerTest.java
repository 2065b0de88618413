package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
  @Test
  void opensAfterConsecutiveFailuresAndHalfOpensForOneTrial() {
    AtomicLong now = new AtomicLong();
    CircuitBreaker b = new CircuitBreaker(3, 100, now::get);
    assertThat(b.onFailure()).isFalse();
    b.onSuccess();
    assertThat(b.onFailure()).isFalse();
    assertThat(b.onFailure()).isFalse();
    assertThat(b.allows()).isTrue();
    assertThat(b.onFailure()).isTrue();
    assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
    assertThat(b.allows()).isFalse();
    now.addAndGet(100_000_000L);
    assertThat(b.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
    assertThat(b.allows()).isTrue();
    b.onSelected();
    assertThat(b.allows()).isFalse(); // one trial at a time
    assertThat(b.onFailure()).isFalse(); // trial failed: open again (not a new ejection)
    assertThat(b.state()).isEqualTo(CircuitBreaker.State.OPEN);
    now.addAndGet(100_000_000L);
    b.onSelected();
    b.onSuccess();
    assertThat(b.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(b.allows()).isTrue();
  }
}
