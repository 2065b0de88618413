package dev.baton.control;

import dev.baton.core.PrometheusText;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;

/**
 * Waits until a worker that left the gateway's pool holds nothing a client or another worker still
 * needs: no request running or waiting, and no live KV lease (a finished prefill whose blocks a
 * decode worker has not pulled yet, {@code baton_kv_leases}). Used by the local supervisor's drain
 * and by a worker pod's preStop hook ({@code baton operator drain}). External engines without the
 * lease gauge count as lease-free.
 */
public final class WorkerDrain {

  /**
   * Idle this long in a row counts as drained: covers a request the gateway sent just before it
   * deregistered the worker and that has not reached the worker's counters yet.
   */
  public static final Duration QUIET = Duration.ofMillis(500);

  private static final Duration POLL = Duration.ofMillis(100);

  private WorkerDrain() {}

  /** What still holds a worker: requests running and waiting, and live KV leases. */
  public record Load(int running, int waiting, int leases) {
    public boolean idle() {
      return running == 0 && waiting == 0 && leases == 0;
    }
  }

  /** A worker's load from its {@code /metrics}; {@code null} when they cannot be read. */
  public static Load load(String workerUrl) {
    try {
      Http.Reply reply = Http.get(workerUrl + "/metrics", MetricsScraper.TIMEOUT);
      if (!reply.ok()) {
        return null;
      }
      PrometheusText m = PrometheusText.parse(reply.body());
      return new Load(
          (int) Math.round(m.sum("vllm:num_requests_running")),
          (int) Math.round(m.sum("vllm:num_requests_waiting")),
          (int) Math.round(m.sum("baton_kv_leases")));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Polls the worker until it has been idle for {@link #QUIET}; returns true then, false when the
   * deadline passes first or {@code alive} turns false (an unreadable worker counts as busy).
   */
  public static boolean awaitIdle(String workerUrl, Instant deadline, BooleanSupplier alive) {
    Instant idleSince = null;
    while (Instant.now().isBefore(deadline) && alive.getAsBoolean()) {
      Load load = load(workerUrl);
      Instant now = Instant.now();
      if (load != null && load.idle()) {
        idleSince = idleSince == null ? now : idleSince;
        if (!now.isBefore(idleSince.plus(QUIET))) {
          return true;
        }
      } else {
        idleSince = null;
      }
      Polling.sleepQuietly(POLL);
    }
    return false;
  }
}
