package dev.baton.engine.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A persistent pool that runs one task on {@code threads} threads at once (the caller is thread 0).
 * A decode step issues ~100 parallel sections of well under a millisecond each, so workers spin
 * briefly between sections instead of paying a park/unpark (or a ForkJoin task) per section; after
 * a short idle spell they park so an idle engine costs no CPU.
 */
public final class Parallel implements AutoCloseable {

  /** Spin iterations before a worker parks (roughly a millisecond). */
  private static final int SPINS = 1 << 17;

  private final int threads;
  private final Worker[] workers;
  private final AtomicInteger pending = new AtomicInteger();
  private volatile IntConsumer task;
  private volatile long generation;
  private volatile boolean closed;
  private volatile Throwable failure;

  public Parallel(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.threads = threads;
    this.workers = new Worker[threads - 1];
    for (int i = 0; i < workers.length; i++) {
      workers[i] = new Worker(i + 1);
      workers[i].start();
    }
  }

  public int threads() {
    return threads;
  }

  /**
   * Runs {@code body.accept(t)} for every {@code t} in {@code [0, threads)}, in parallel, and
   * returns when all are done. Not reentrant: one caller at a time.
   */
  public void run(IntConsumer body) {
    if (threads == 1) {
      body.accept(0);
      return;
    }
    failure = null;
    task = body;
    pending.set(workers.length);
    generation++;
    for (Worker w : workers) {
      if (w.parked) {
        LockSupport.unpark(w);
      }
    }
    Throwable own = null;
    try {
      body.accept(0);
    } catch (Throwable t) {
      own = t;
    }
    for (int spins = 0; pending.get() != 0; spins++) {
      backOff(spins);
    }
    task = null;
    Throwable f = own != null ? own : failure;
    if (f instanceof RuntimeException re) {
      throw re;
    }
    if (f instanceof Error e) {
      throw e;
    }
    if (f != null) {
      throw new IllegalStateException(f);
    }
  }

  /**
   * Busy-waits politely: on a loaded machine a waiter that never yields can hold the core that the
   * thread it waits for needs, so every 64th spin gives the core away.
   */
  private static void backOff(int spins) {
    if ((spins & 63) == 63) {
      Thread.yield();
    } else {
      Thread.onSpinWait();
    }
  }

  /** Splits {@code [0, total)} into {@code threads} contiguous parts; returns part t's start. */
  public static int split(int total, int parts, int t) {
    return (int) ((long) total * t / parts);
  }

  @Override
  public void close() {
    closed = true;
    for (Worker w : workers) {
      LockSupport.unpark(w);
    }
  }

  private final class Worker extends Thread {
    private final int id;
    volatile boolean parked;

    Worker(int id) {
      super("baton-compute-" + id);
      this.id = id;
      setDaemon(true);
    }

    @Override
    public void run() {
      long seen = 0;
      while (true) {
        int spins = 0;
        long g;
        while ((g = generation) == seen) {
          if (closed) {
            return;
          }
          if (++spins < SPINS) {
            backOff(spins);
          } else {
            parked = true;
            if (generation == seen && !closed) {
              LockSupport.park(this);
            }
            parked = false;
            spins = 0;
          }
        }
        seen = g;
        try {
          task.accept(id);
        } catch (Throwable t) {
          failure = t;
        } finally {
          pending.decrementAndGet();
        }
      }
    }
  }
}
