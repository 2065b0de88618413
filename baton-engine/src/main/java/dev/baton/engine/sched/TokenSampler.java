package dev.baton.engine.sched;

import dev.baton.engine.ModelRunner;

/**
 * Picks the next token of one sequence from its logits. One instance per request (it owns the
 * request's random state); the engine loop thread is its only caller.
 */
@FunctionalInterface
public interface TokenSampler {

  /**
   * @param logits the model's logits for the next position; may be modified in place
   * @param tokens the sequence so far: {@code tokens[0..promptLen)} prompt, then output
   * @param promptLen number of prompt tokens
   * @param numTokens number of valid entries in {@code tokens}
   */
  int sample(float[] logits, int[] tokens, int promptLen, int numTokens);

  /**
   * True when {@link #sample} returns the logits' argmax (lowest index on ties) and nothing else
   * touches the logits (no temperature, penalty or bias): the runner may then pick the token where
   * the logits are and hand over one index instead of a vocabulary of floats.
   */
  default boolean argmaxOnly() {
    return false;
  }

  /** Greedy decoding with nothing else applied. */
  static TokenSampler argmax() {
    return new TokenSampler() {
      @Override
      public int sample(float[] logits, int[] tokens, int promptLen, int numTokens) {
        return ModelRunner.argmax(logits);
      }

      @Override
      public boolean argmaxOnly() {
        return true;
      }
    };
  }
}
