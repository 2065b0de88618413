package dev.baton.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs one benchmark: warm-up requests first (not measured), then requests at the configured
 * arrival process, each on its own virtual thread, at most {@code max-concurrency} in flight; then
 * computes the metrics over the measured requests.
 */
public final class BenchRunner {

  /** One measured request and what the dataset intended for it. */
  private record Sent(int index, PreparedRequest request, RequestResult result) {}

  private final OpenAiClient client;
  private final LoadConfig load;
  private final MetricsConfig metrics;
  private final LiveStats stats = new LiveStats();

  public BenchRunner(OpenAiClient client, LoadConfig load, MetricsConfig metrics) {
    this.client = client;
    this.load = load;
    this.metrics = metrics;
  }

  /** Live counters of the measured part of the run (for a progress display). */
  public LiveStats stats() {
    return stats;
  }

  /** Sends the warm-up requests (same concurrency limit) and waits for them. */
  public List<RequestResult> warmUp(Workload workload) throws InterruptedException {
    List<RequestResult> out = java.util.Collections.synchronizedList(new ArrayList<>());
    if (load.warmups() == 0) {
      return out;
    }
    PreparedRequest request = workload.warmupRequest();
    Semaphore limit =
        new Semaphore(load.maxConcurrency() > 0 ? load.maxConcurrency() : Integer.MAX_VALUE);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < load.warmups(); i++) {
        limit.acquire();
        threads.submit(
            () -> {
              try {
                out.add(client.send(request, null));
              } finally {
                limit.release();
              }
            });
      }
    }
    return out;
  }

  /** Runs the measured part and computes its metrics. */
  public BenchmarkResult run(Workload workload) throws InterruptedException {
    Workload source = load.duration() != null ? workload.cycling() : workload;
    Arrivals arrivals = new Arrivals(load.requestRate(), load.burstiness(), load.seed());
    Semaphore limit = load.maxConcurrency() > 0 ? new Semaphore(load.maxConcurrency()) : null;
    boolean allAtOnce = Double.isInfinite(load.requestRate());
    List<Sent> sent = java.util.Collections.synchronizedList(new ArrayList<>());
    long start = System.nanoTime();
    long stopAt = load.duration() == null ? Long.MAX_VALUE : start + load.duration().toNanos();
    long nextArrival = start;
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int index = 0; ; index++) {
        if (index > 0) {
          nextArrival += arrivals.nextGapNanos();
          waitUntil(nextArrival);
        }
        if (System.nanoTime() >= stopAt) {
          break;
        }
        // With everything due at once, waiting for a free slot here keeps the number of parked
        // threads bounded; at a finite rate the request waits on its own thread so the arrival
        // schedule does not drift, as in vLLM.
        if (allAtOnce && limit != null) {
          limit.acquire();
          if (System.nanoTime() >= stopAt) {
            limit.release();
            break;
          }
        }
        PreparedRequest request = source.next();
        if (request == null) {
          if (allAtOnce && limit != null) {
            limit.release();
          }
          break;
        }
        int i = index;
        boolean holdsPermit = allAtOnce && limit != null;
        threads.submit(
            () -> {
              boolean permit = holdsPermit;
              try {
                if (!permit && limit != null) {
                  limit.acquire();
                  permit = true;
                }
                stats.started();
                RequestResult result = client.send(request, stats::chunk);
                stats.finished(result);
                sent.add(new Sent(i, request, result));
                source.finished(request, result);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                if (permit) {
                  limit.release();
                }
              }
            });
      }
    }
    long end = System.nanoTime();
    List<Sent> ordered = new ArrayList<>(sent);
    ordered.sort(Comparator.comparingInt(Sent::index));
    List<RequestResult> results = ordered.stream().map(Sent::result).toList();
    int[] promptLens = ordered.stream().mapToInt(s -> s.request().promptLen()).toArray();
    return BenchmarkResult.compute(
        results,
        promptLens,
        end - start,
        metrics.goodput(),
        metrics.percentileMetrics(),
        metrics.percentiles());
  }

  private static void waitUntil(long deadline) throws InterruptedException {
    long remaining;
    while ((remaining = deadline - System.nanoTime()) > 0) {
      LockSupport.parkNanos(remaining);
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
  }
}
