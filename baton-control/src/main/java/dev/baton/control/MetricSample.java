package dev.baton.control;

import java.time.Instant;

/**
 * One scrape of a scaled unit (a role's pool, or all groups in replica mode), as the autoscaler
 * sees it.
 *
 * @param replicas workers (or groups) serving when the sample was taken
 * @param waiting requests waiting, summed over the unit's workers
 * @param running requests running, summed over the unit's workers
 * @param kvUsage mean KV cache usage of the unit's workers, 0..1
 * @param ttftP90Seconds p90 time to first token since the previous sample; {@code null} if no
 *     request got its first token in between
 * @param itlP90Seconds p90 inter-token latency since the previous sample; {@code null} if none
 */
public record MetricSample(
    Instant time,
    int replicas,
    double waiting,
    double running,
    double kvUsage,
    Double ttftP90Seconds,
    Double itlP90Seconds) {}
