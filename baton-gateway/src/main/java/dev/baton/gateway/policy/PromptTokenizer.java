package dev.baton.gateway.policy;

/**
 * Turns prompt text into token ids for the prefix index (the model's tokenizer when configured).
 */
@FunctionalInterface
public interface PromptTokenizer {
  int[] encode(String text);
}
