package dev.baton.engine.sched;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What the engine sends to a request's consumer: tokens as they come; the end arrives inside the
 * last token or, when no token ends it, as a lone {@link Finished}.
 */
public sealed interface EngineEvent {

  /**
   * One generated token. {@code text} is the text that became final with it (possibly "", text is
   * held back while it might still turn into a stop string). {@code logprob} and the top
   * alternatives are present only when the request asked for logprobs. {@code end} is set when this
   * token ended the request (no separate end event follows then).
   */
  record Token(
      int tokenId, String text, float logprob, int[] topIds, float[] topLogprobs, Finished end)
      implements EngineEvent {}

  /**
   * The request ended, either with its last token or on its own (abort, error). {@code stopReason}
   * is the matched stop string or stop token id (null when none). {@code retryable}: the error is
   * not the request's fault and another attempt may succeed (a failed P/D KV transfer), so the
   * server answers 503 rather than 500.
   */
  record Finished(
      FinishReason reason,
      Object stopReason,
      int promptTokens,
      int completionTokens,
      int cachedTokens,
      JsonNode kvTransferParams,
      String error,
      boolean retryable)
      implements EngineEvent {

    public Finished(
        FinishReason reason,
        Object stopReason,
        int promptTokens,
        int completionTokens,
        int cachedTokens,
        JsonNode kvTransferParams,
        String error) {
      this(
          reason,
          stopReason,
          promptTokens,
          completionTokens,
          cachedTokens,
          kvTransferParams,
          error,
          false);
    }
  }
}
