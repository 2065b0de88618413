package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.function.Supplier;

/**
 * What a routing policy may look at for one request: its session id and, computed on first use, its
 * prompt's block keys and how many leading blocks each worker was already sent.
 */
public final class RouteRequest {

  private final String sessionId;
  private final Supplier<PromptKeys.Prompt> promptSource;
  private final PrefixIndex index;
  private PromptKeys.Prompt prompt;
  private int[] matches;

  public RouteRequest(
      String sessionId, Supplier<PromptKeys.Prompt> promptSource, PrefixIndex index) {
    this.sessionId = sessionId;
    this.promptSource = promptSource;
    this.index = index;
  }

  /** A request with a session id and a prompt of the given block keys (tests, benchmarks). */
  public static RouteRequest of(String sessionId, long[] blockKeys, PrefixIndex index) {
    PromptKeys.Prompt p = new PromptKeys.Prompt(blockKeys, blockKeys.length * 16, 16);
    return new RouteRequest(sessionId, () -> p, index);
  }

  /** The {@code x-session-id} header, or null. */
  public String sessionId() {
    return sessionId;
  }

  public PromptKeys.Prompt prompt() {
    if (prompt == null) {
      prompt = promptSource.get();
    }
    return prompt;
  }

  /** Full blocks in the prompt. */
  public int promptBlocks() {
    return prompt().blockKeys().length;
  }

  /** Estimated prompt length in tokens. */
  public int promptTokens() {
    return prompt().tokens();
  }

  /**
   * Leading prompt blocks the worker holds: exactly, from its KV events, when it publishes them and
   * the prompt's keys are token blocks; otherwise those it was already sent (its likely
   * prefix-cache hit).
   */
  public int matchedBlocks(Worker worker) {
    KvEventIndex events = worker.kvEvents();
    if (events != null && events.live() && prompt().exact()) {
      return events.leadingMatches(prompt().blockKeys());
    }
    if (index == null || worker.slot() < 0) {
      return 0;
    }
    if (matches == null) {
      matches = index.leadingMatches(prompt().blockKeys());
    }
    return matches[worker.slot()];
  }

  /** Matched fraction of the prompt's blocks, in [0, 1]. */
  public double matchRatio(Worker worker) {
    int blocks = promptBlocks();
    return blocks == 0 ? 0 : (double) matchedBlocks(worker) / blocks;
  }

  /** Estimated prompt tokens the worker would still have to compute. */
  public int uncachedTokens(Worker worker) {
    return Math.max(0, promptTokens() - matchedBlocks(worker) * prompt().tokensPerBlock());
  }

  /** Drops cached match counts after the index changed. */
  public void indexChanged() {
    matches = null;
  }
}
