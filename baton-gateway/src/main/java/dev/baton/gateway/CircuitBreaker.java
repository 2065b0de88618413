package dev.baton.gateway;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Passive ejection of one worker: after {@code threshold} consecutive failures the breaker opens
 * (the worker gets no traffic) for {@code openMs}; then it half-opens and lets one trial request
 * through, which closes it on success or opens it again on failure.
 */
final class CircuitBreaker {

  enum State {
    CLOSED,
    OPEN,
    HALF_OPEN
  }

  private final int threshold;
  private final long openNanos;
  private final LongSupplier clock;
  private final AtomicBoolean trialInFlight = new AtomicBoolean();
  private int consecutiveFailures;
  private State state = State.CLOSED;
  private long openedAt;

  CircuitBreaker(int threshold, long openMs, LongSupplier clock) {
    this.threshold = Math.max(1, threshold);
    this.openNanos = openMs * 1_000_000L;
    this.clock = clock;
  }

  /** Current state; an open breaker whose time is up reads as half-open. */
  synchronized State state() {
    if (state == State.OPEN && clock.getAsLong() - openedAt >= openNanos) {
      state = State.HALF_OPEN;
      trialInFlight.set(false);
    }
    return state;
  }

  /** Whether a new request may go to the worker now (half-open: only while no trial runs). */
  boolean allows() {
    State s = state();
    return s == State.CLOSED || (s == State.HALF_OPEN && !trialInFlight.get());
  }

  /** Called when the worker is chosen; in half-open that request becomes the one trial. */
  void onSelected() {
    if (state() == State.HALF_OPEN) {
      trialInFlight.set(true);
    }
  }

  synchronized void onSuccess() {
    consecutiveFailures = 0;
    state = State.CLOSED;
    trialInFlight.set(false);
  }

  /** Records a failure; returns true when this failure ejected the worker. */
  synchronized boolean onFailure() {
    consecutiveFailures++;
    State s = state();
    if (s == State.HALF_OPEN || (s == State.CLOSED && consecutiveFailures >= threshold)) {
      state = State.OPEN;
      openedAt = clock.getAsLong();
      trialInFlight.set(false);
      return s == State.CLOSED;
    }
    return false;
  }
}
