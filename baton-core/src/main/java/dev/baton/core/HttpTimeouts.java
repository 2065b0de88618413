package dev.baton.core;

import java.time.Duration;

/**
 * How long worker and gateway HTTP servers keep a connection that is not sending a request, or not
 * sending a request's body. Both servers use the same numbers so a client sees one behaviour
 * (docs/SECURITY.md, "HTTP servers").
 *
 * <p>Helidon counts a connection as idle from the end of its last request until the request line of
 * the next one is complete, so this one deadline closes silent connections, keep-alive connections
 * nobody uses, and slowloris clients that trickle the request line. The check runs every {@link
 * #checkPeriod()}, so a connection lives at most {@code idle + period}.
 *
 * @param idle how long a connection may go without completing a request line
 * @param body how long a request's body may take to arrive, counted from the end of its headers
 *     (checked at the same period)
 */
public record HttpTimeouts(Duration idle, Duration body) {

  /**
   * Idle: longer than the JDK HTTP client's 30 s keep-alive (jdk.httpclient.keepalive.timeout), so
   * a pooling client normally closes first; Helidon's client notices a server-side close of an idle
   * pooled connection before reusing it. Body: nginx's {@code client_body_timeout} default; the
   * default 8 MiB body limit then needs about 140 KB/s.
   */
  public static final HttpTimeouts DEFAULTS =
      new HttpTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(60));

  public HttpTimeouts {
    requirePositive("idle", idle);
    requirePositive("body", body);
  }

  /** The given idle timeout and the default body timeout. */
  public HttpTimeouts(Duration idle) {
    this(idle, DEFAULTS.body());
  }

  /** How often idle connections are looked for: a quarter of the timeout, within 10 ms..5 s. */
  public Duration checkPeriod() {
    long quarter = Math.min(idle.toMillis(), body.toMillis()) / 4;
    return Duration.ofMillis(Math.clamp(quarter, 10, 5_000));
  }

  private static void requirePositive(String what, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " timeout must be positive, got " + d);
    }
  }
}
