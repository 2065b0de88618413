package dev.baton.operator;

import dev.baton.control.MetricsScraper;
import java.time.Duration;
import java.time.Instant;

/**
 * A worker pod's preStop hook ({@code baton operator drain}): Kubernetes sends SIGTERM only after
 * it returns, so in-flight requests (and the KV leases of finished prefills, which a decode pull
 * needs) finish first. It waits until the worker's {@code /metrics} show nothing running or waiting
 * for {@link #QUIET}, as the local control plane's drain does, bounded by the drain timeout.
 */
public final class Drain {

  /** Idle this long counts as drained (a finished prefill's lease is pulled within it). */
  static final Duration QUIET = Duration.ofMillis(1500);

  private Drain() {}

  /** Returns true when the worker went quiet, false when the timeout passed first. */
  public static boolean awaitIdle(String workerUrl, Duration timeout) throws InterruptedException {
    Instant deadline = Instant.now().plus(timeout);
    Instant quietSince = null;
    while (Instant.now().isBefore(deadline)) {
      Instant now = Instant.now();
      if (MetricsScraper.inFlight(workerUrl) == 0) {
        quietSince = quietSince == null ? now : quietSince;
        if (!now.isBefore(quietSince.plus(QUIET))) {
          return true;
        }
      } else {
        quietSince = null;
      }
      Thread.sleep(200);
    }
    return false;
  }
}
