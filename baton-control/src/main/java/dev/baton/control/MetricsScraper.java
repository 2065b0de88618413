package dev.baton.control;

import dev.baton.core.PrometheusText;
import dev.baton.core.PrometheusText.Histogram;
import dev.baton.core.Role;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Reads workers' {@code /metrics} (vLLM's metric names) and turns them into what the control plane
 * decides on: a worker's load now, and per scaled unit an autoscaler {@link MetricSample} whose
 * TTFT and ITL p90 cover only the interval since the previous scrape (histograms are cumulative, so
 * the previous one is subtracted).
 */
public final class MetricsScraper {

  /** Generous: a worker busy with a long prefill on a small machine may answer late. */
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  /**
   * A worker instance to scrape: the local supervisor's {@link WorkerSlot}, or a pod the Kubernetes
   * operator runs. {@code id} names the instance (counter deltas are kept per id, and while a
   * worker rolls or is replaced two processes of one worker must not be subtracted from each
   * other).
   */
  public record Target(String id, Role role, String group, String url) {
    static Target of(WorkerSlot w) {
      return new Target(w.instance, w.role, w.group, w.url);
    }
  }

  /**
   * Scraped load of one worker, and its cumulative counters of prompt tokens, generated tokens and
   * finished requests (what {@link PdRatioTracker} derives the observed lengths from).
   */
  public record WorkerMetrics(
      Target worker,
      double running,
      double waiting,
      double kvUsage,
      Histogram ttft,
      Histogram itl,
      double promptTokens,
      double generationTokens,
      double finished) {}

  /** A worker's previous histograms. */
  private record Previous(Histogram ttft, Histogram itl) {}

  private final Map<String, Previous> previous = new HashMap<>();

  /** Reads a worker's /metrics; {@code null} when it cannot be read. */
  static WorkerMetrics scrape(WorkerSlot w) {
    return scrape(Target.of(w));
  }

  /**
   * Scrapes {@code targets} in parallel on {@code pool}; unreadable workers are left out of the
   * sample (they contribute nothing this round).
   */
  public static List<WorkerMetrics> scrapeAll(ExecutorService pool, List<Target> targets) {
    List<Future<WorkerMetrics>> futures = new ArrayList<>();
    for (Target t : targets) {
      futures.add(pool.submit(() -> scrape(t)));
    }
    List<WorkerMetrics> out = new ArrayList<>();
    for (Future<WorkerMetrics> f : futures) {
      try {
        WorkerMetrics m = f.get();
        if (m != null) {
          out.add(m);
        }
      } catch (Exception e) {
        // an unreadable worker contributes no sample this round
      }
    }
    return out;
  }

  /** Reads a worker's /metrics; {@code null} when it cannot be read. */
  public static WorkerMetrics scrape(Target w) {
    try {
      Http.Reply reply = Http.get(w.url() + "/metrics", TIMEOUT);
      return reply.ok() ? parse(w, reply.body()) : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** A worker's load from its metrics text (ITL falls back to vLLM's older TPOT histogram). */
  static WorkerMetrics parse(WorkerSlot w, String text) {
    return parse(Target.of(w), text);
  }

  static WorkerMetrics parse(Target w, String text) {
    PrometheusText m = PrometheusText.parse(text);
    Histogram itl = m.histogram("vllm:inter_token_latency_seconds");
    return new WorkerMetrics(
        w,
        m.sum("vllm:num_requests_running"),
        m.sum("vllm:num_requests_waiting"),
        m.firstOf(0, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        m.histogram("vllm:time_to_first_token_seconds"),
        itl.count() > 0 ? itl : m.histogram("vllm:time_per_output_token_seconds"),
        m.sum("vllm:prompt_tokens_total"),
        m.sum("vllm:generation_tokens_total"),
        m.sum("vllm:request_success_total"));
  }

  /**
   * Aggregates the workers of one unit (a role's wire name, or "groups") into a sample: summed
   * queue lengths, mean KV usage, and p90 TTFT (prefill side) and ITL (decode side) over the
   * interval since this unit's workers were last sampled.
   */
  public MetricSample sample(
      String unit, Collection<WorkerMetrics> metrics, int readyReplicas, Instant now) {
    double running = 0;
    double waiting = 0;
    double kv = 0;
    int members = 0;
    Histogram ttft = new Histogram(new TreeMap<>());
    Histogram itl = new Histogram(new TreeMap<>());
    for (WorkerMetrics m : metrics) {
      boolean member =
          unit.equals("groups")
              ? m.worker().group() != null
              : m.worker().role().wireName().equals(unit);
      if (!member) {
        continue;
      }
      members++;
      running += m.running();
      waiting += m.waiting();
      kv += m.kvUsage();
      Previous last = previous.put(m.worker().id(), new Previous(m.ttft(), m.itl()));
      Histogram ttftDelta = last == null ? m.ttft() : m.ttft().minus(last.ttft());
      Histogram itlDelta = last == null ? m.itl() : m.itl().minus(last.itl());
      // TTFT is the prefill side's signal, ITL the decode side's (a colocated worker has both).
      if (m.worker().role() != Role.DECODE) {
        ttft = ttft.plus(ttftDelta);
      }
      if (m.worker().role() != Role.PREFILL) {
        itl = itl.plus(itlDelta);
      }
    }
    double meanKv = members == 0 ? 0 : kv / members;
    return new MetricSample(
        now, readyReplicas, waiting, running, meanKv, ttft.quantile(0.9), itl.quantile(0.9));
  }
}
