package dev.baton.bench;

import java.util.List;

/**
 * What one benchmark request measured, in the terms of {@code vllm bench serve}: send time, time to
 * the first streamed chunk, every gap between chunks, and the end-to-end latency (send to the last
 * chunk that carried choices). Failed requests keep their reason.
 *
 * @param success whether the request produced at least one chunk with choices and ended cleanly
 * @param sendNanos {@link System#nanoTime()} when the request was sent
 * @param ttftNanos send to first chunk with choices; 0 when none arrived
 * @param e2elNanos send to the last chunk with choices (the whole response when not streaming)
 * @param itlNanos every gap between consecutive chunks with choices
 * @param outputTokens completion tokens as the server's usage reports them, else the chunk count
 * @param usageReported whether {@code outputTokens} came from the server's usage block
 * @param promptTokens prompt tokens from the server's usage block, or -1 when it sent none
 * @param generatedText concatenated text of all chunks
 * @param error the failure reason in full ("" on success)
 * @param errorKind a short failure category for counting ("" on success)
 */
public record RequestResult(
    boolean success,
    long sendNanos,
    long ttftNanos,
    long e2elNanos,
    long[] itlNanos,
    int outputTokens,
    boolean usageReported,
    int promptTokens,
    String generatedText,
    String error,
    String errorKind) {

  /** A failed request: nothing but the reason counts. */
  public static RequestResult failure(
      long sendNanos, long elapsedNanos, String kind, String error) {
    return new RequestResult(
        false, sendNanos, 0, elapsedNanos, new long[0], 0, false, -1, "", error, kind);
  }

  /** The ITL gaps as a list (for JSON output). */
  public List<Long> itlList() {
    return java.util.Arrays.stream(itlNanos).boxed().toList();
  }

  /** Nanoseconds since send at which the last measured chunk arrived. */
  public long endNanos() {
    return sendNanos + e2elNanos;
  }
}
