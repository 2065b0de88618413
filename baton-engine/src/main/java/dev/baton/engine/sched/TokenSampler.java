package dev.baton.engine.sched;

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
}
