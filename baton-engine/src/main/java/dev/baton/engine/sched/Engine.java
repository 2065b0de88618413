package dev.baton.engine.sched;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The engine loop: one platform thread that owns the {@link Scheduler} (and through it the KV
 * blocks and the model runner). Other threads only {@link #submit} and {@link #abort}; both are
 * messages in one inbox, so the scheduler never needs a lock. Each request's tokens come back
 * through its own {@link EngineRequest#events()} queue.
 */
public final class Engine implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(Engine.class.getName());

  /** Thrown by {@link #submit} when more than {@code maxWaiting} requests already wait. */
  public static final class OverloadedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OverloadedException(String message) {
      super(message, null, false, false);
    }
  }

  private sealed interface Message {}

  private record Submit(EngineRequest request) implements Message {}

  private record Abort(EngineRequest request) implements Message {}

  private record Call(Runnable task) implements Message {}

  private final Scheduler scheduler;
  private final LinkedBlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final Thread thread;
  private volatile boolean stopping;

  // Snapshots the loop publishes for metrics and load shedding.
  private volatile int numRunning;
  private volatile int numWaiting;
  private volatile double kvUsage;

  public Engine(Scheduler scheduler) {
    this.scheduler = scheduler;
    this.thread = Thread.ofPlatform().name("baton-engine").daemon(true).unstarted(this::loop);
  }

  public Engine start() {
    thread.start();
    return this;
  }

  public SchedulerConfig config() {
    return scheduler.config();
  }

  /** KV blocks in the pool (fixed for the engine's life). */
  public int kvBlocks() {
    return scheduler.blocks().numBlocks();
  }

  /**
   * Hands a request to the engine; its events start arriving on its queue. Refuses (throws {@link
   * OverloadedException}) when the waiting queue is full.
   */
  public void submit(EngineRequest r) {
    if (stopping) {
      throw new OverloadedException("the engine is shutting down");
    }
    // Requests still in the inbox are not waiting yet: as many as there are free running slots
    // will start at the next step, so only the rest count against --max-waiting.
    int max = scheduler.config().maxWaiting();
    int freeSlots = Math.max(0, scheduler.config().maxNumSeqs() - numRunning);
    int pending = numWaiting + queued.get();
    if (pending >= max + freeSlots) {
      throw new OverloadedException(
          "too many waiting requests ("
              + Math.max(0, pending - freeSlots)
              + " waiting, max "
              + max
              + ")");
    }
    queued.incrementAndGet();
    inbox.add(new Submit(r));
  }

  /** Ends the request as soon as the loop sees this (its blocks are freed; no more compute). */
  public void abort(EngineRequest r) {
    inbox.add(new Abort(r));
  }

  /**
   * Tells the connector that a request refused by {@link #submit} has ended (it may name a prefill
   * lease to release); the request itself was never queued.
   */
  public void discard(EngineRequest r) {
    inbox.add(new Call(() -> scheduler.discard(r)));
  }

  /** Runs {@code task} on the engine thread between two steps (for tests and admin work). */
  public void runOnLoop(Runnable task) {
    inbox.add(new Call(task));
  }

  /**
   * Forgets the prefix cache of every free block between two steps (vLLM's {@code
   * reset_prefix_cache}; blocks a request holds keep theirs); completes with how many it forgot.
   */
  public CompletableFuture<Integer> resetPrefixCache() {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    runOnLoop(() -> done.complete(scheduler.blocks().resetPrefixCache()));
    return done;
  }

  /** The scheduler; touch it only from the loop thread ({@link #runOnLoop}). */
  Scheduler schedulerForTests() {
    return scheduler;
  }

  public int numRunning() {
    return numRunning;
  }

  public int numWaiting() {
    return numWaiting + queued.get();
  }

  /** Fraction of KV blocks held by requests. */
  public double kvUsage() {
    return kvUsage;
  }

  private void loop() {
    try {
      while (!stopping) {
        Message m = scheduler.hasWork() ? inbox.poll() : inbox.take();
        while (m != null) {
          handle(m);
          m = inbox.poll();
        }
        try {
          int computed = scheduler.step();
          publish();
          if (computed == 0 && scheduler.hasWork()) {
            // Everything waits on a connector or on blocks held by delayed frees: don't spin.
            Message next = inbox.poll(1, java.util.concurrent.TimeUnit.MILLISECONDS);
            if (next != null) {
              handle(next);
            }
          }
        } catch (RuntimeException | Error e) {
          LOG.log(Level.SEVERE, "engine step failed; failing the requests in flight", e);
          scheduler.failAll("engine error: " + e);
          publish();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      Message m;
      while ((m = inbox.poll()) != null) {
        if (m instanceof Submit(EngineRequest r)) {
          queued.decrementAndGet();
          scheduler.add(r);
        }
      }
      scheduler.failAll("the engine stopped");
      publish();
    }
  }

  private void handle(Message m) {
    switch (m) {
      case Submit(EngineRequest r) -> {
        queued.decrementAndGet();
        scheduler.add(r);
      }
      case Abort(EngineRequest r) -> scheduler.abort(r);
      case Call(Runnable task) -> task.run();
    }
  }

  private void publish() {
    numRunning = scheduler.numRunning();
    numWaiting = scheduler.numWaiting();
    kvUsage = scheduler.blocks().usage();
  }

  @Override
  public void close() {
    stopping = true;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
