package dev.baton.gateway;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admission control for one pool: at most {@code maxInFlight} requests run, at most {@code
 * queueSize} wait (each for at most the queue timeout); beyond that requests are refused at once
 * (the gateway answers 429 with Retry-After) instead of piling up.
 */
final class Admission {
  private final Semaphore running;
  private final int queueSize;
  private final long queueTimeoutMs;
  private final AtomicInteger waiting = new AtomicInteger();

  Admission(int maxInFlight, int queueSize, long queueTimeoutMs) {
    this.running = new Semaphore(maxInFlight);
    this.queueSize = queueSize;
    this.queueTimeoutMs = queueTimeoutMs;
  }

  /** Takes a slot, waiting in the queue if there is room; false means refuse the request. */
  boolean enter() throws InterruptedException {
    if (running.tryAcquire()) {
      return true;
    }
    if (waiting.incrementAndGet() > queueSize) {
      waiting.decrementAndGet();
      return false;
    }
    try {
      return running.tryAcquire(queueTimeoutMs, TimeUnit.MILLISECONDS);
    } finally {
      waiting.decrementAndGet();
    }
  }

  void leave() {
    running.release();
  }

  int waiting() {
    return waiting.get();
  }
}
