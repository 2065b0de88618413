package dev.baton.engine.sched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.baton.kv.KvConnector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EngineTest {

  /**
   * Thousands of mixed requests from many threads, a quarter of them aborted at random moments
   * (before admission, mid-prefill, mid-decode, after the end): every completed one matches the
   * reference, and afterwards every block of the pool is free.
   */
  @Test
  void thousandsOfMixedRequestsWithAbortsLeaveThePoolFullyFree() throws Exception {
    int numBlocks = 48;
    try (CheckRunner runner = new CheckRunner(numBlocks, 4);
        Engine engine =
            new Engine(
                    new Scheduler(
                        new SchedulerConfig(4, 32, 8, 1024, 100_000, true, "check", "F32"),
                        runner,
                        KvConnector.NONE,
                        EngineListener.NONE))
                .start();
        ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      AtomicInteger completed = new AtomicInteger();
      AtomicInteger aborted = new AtomicInteger();
      List<CompletableFuture<Void>> all = new ArrayList<>();
      Random seeds = new Random(42);
      int[] shared = SchedulerTest.prompt(new Random(1), 12);
      for (int i = 0; i < 2000; i++) {
        long seed = seeds.nextLong();
        String id = "r" + i;
        all.add(
            CompletableFuture.runAsync(
                () -> {
                  Random rnd = new Random(seed);
                  int[] p = SchedulerTest.prompt(rnd, 1 + rnd.nextInt(24));
                  if (rnd.nextBoolean()) {
                    System.arraycopy(shared, 0, p, 0, Math.min(p.length, shared.length));
                  }
                  int max = 1 + rnd.nextInt(12);
                  EngineRequest r = SchedulerTest.request(id, p, max);
                  int abortAfter = rnd.nextInt(4) == 0 ? rnd.nextInt(max + 1) : -1;
                  engine.submit(r);
                  if (abortAfter == 0) {
                    engine.abort(r);
                  }
                  List<Integer> got = new ArrayList<>();
                  try {
                    while (true) {
                      EngineEvent e = r.events().poll(30, TimeUnit.SECONDS);
                      assertThat(e).as("event of " + id).isNotNull();
                      EngineEvent.Finished end = null;
                      if (e instanceof EngineEvent.Token t) {
                        got.add(t.tokenId());
                        end = t.end();
                        if (got.size() == abortAfter) {
                          engine.abort(r); // the client went away mid-stream
                        }
                      } else {
                        end = (EngineEvent.Finished) e;
                      }
                      if (end != null) {
                        if (end.reason() == FinishReason.ABORT) {
                          aborted.incrementAndGet();
                        } else {
                          assertThat(got).containsExactly(box(CheckRunner.expectedOutput(p, max)));
                          completed.incrementAndGet();
                        }
                        return;
                      }
                    }
                  } catch (InterruptedException ex) {
                    throw new IllegalStateException(ex);
                  }
                },
                clients));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
      assertThat(completed.get() + aborted.get()).isEqualTo(2000);
      assertThat(aborted.get()).isGreaterThan(100);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                CompletableFuture<Integer> free = new CompletableFuture<>();
                engine.runOnLoop(() -> free.complete(engineFreeBlocks(engine)));
                assertThat(free.get(5, TimeUnit.SECONDS)).isEqualTo(numBlocks);
              });
      assertThat(engine.numRunning()).isZero();
      assertThat(engine.numWaiting()).isZero();
    }
  }

  private static int engineFreeBlocks(Engine engine) {
    return engine.schedulerForTests().blocks().numFreeBlocks();
  }

  private static Integer[] box(int[] a) {
    Integer[] out = new Integer[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }

  @Test
  void refusesRequestsBeyondMaxWaiting() {
    try (CheckRunner runner = new CheckRunner(8, 4)) {
      // Not started: nothing leaves the queue.
      Engine engine =
          new Engine(
              new Scheduler(
                  new SchedulerConfig(4, 32, 8, 1024, 2, true, "check", "F32"),
                  runner,
                  KvConnector.NONE,
                  EngineListener.NONE));
      // 8 running slots are free, so 8 + 2 (max waiting) are taken; the 11th is refused.
      for (int i = 0; i < 10; i++) {
        engine.submit(SchedulerTest.request("r" + i, new int[] {1}, 1));
      }
      assertThatThrownBy(() -> engine.submit(SchedulerTest.request("c", new int[] {1}, 1)))
          .isInstanceOf(Engine.OverloadedException.class)
          .hasMessageContaining("max 2");
      assertThat(engine.numWaiting()).isEqualTo(10);
      engine.start();
      await().atMost(Duration.ofSeconds(10)).until(() -> engine.numWaiting() == 0);
      engine.close();
    }
  }

  @Test
  void closingFailsRequestsInFlight() throws Exception {
    try (CheckRunner runner = new CheckRunner(64, 4)) {
      Engine engine =
          new Engine(
                  new Scheduler(
                      new SchedulerConfig(4, 32, 8, 100_000, 10, true, "check", "F32"),
                      runner,
                      KvConnector.NONE,
                      EngineListener.NONE))
              .start();
      EngineRequest r = SchedulerTest.request("long", new int[] {1, 2}, 200);
      engine.submit(r);
      assertThat(r.events().poll(10, TimeUnit.SECONDS)).isNotNull();
      engine.close();
      EngineEvent last = null;
      for (EngineEvent e : r.events()) {
        last = e;
      }
      assertThat(Set.of(FinishReason.ERROR, FinishReason.LENGTH))
          .contains(
              last instanceof EngineEvent.Finished f
                  ? f.reason()
                  : ((EngineEvent.Token) last).end().reason());
    }
  }
}
