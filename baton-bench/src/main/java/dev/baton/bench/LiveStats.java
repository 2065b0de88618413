package dev.baton.bench;

import java.util.concurrent.atomic.AtomicLong;

/** Counters the progress display reads while a run goes on. */
public final class LiveStats {

  private final AtomicLong done = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong inFlight = new AtomicLong();
  private final AtomicLong chunks = new AtomicLong();

  void started() {
    inFlight.incrementAndGet();
  }

  void finished(RequestResult result) {
    inFlight.decrementAndGet();
    done.incrementAndGet();
    if (!result.success()) {
      failed.incrementAndGet();
    }
  }

  void chunk(int n) {
    chunks.addAndGet(n);
  }

  public long done() {
    return done.get();
  }

  public long failed() {
    return failed.get();
  }

  public long inFlight() {
    return inFlight.get();
  }

  /** Streamed chunks so far (about one token each). */
  public long chunks() {
    return chunks.get();
  }
}
