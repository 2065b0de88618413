package dev.baton.bench;

/**
 * Counts (and, where it can, encodes and decodes) prompt tokens the way the target model does, so
 * datasets build prompts of the intended length. Three sources: the model's own tokenizer from a
 * GGUF file, the server's {@code POST /tokenize}, or an approximate word count.
 */
public interface PromptTokenizer {

  /** What {@code tokenizer_id} in the result names. */
  String id();

  /** Tokens in {@code text}, without special tokens such as BOS. */
  int count(String text);

  /** Whether {@link #encode}, {@link #decode} and {@link #vocabSize} work. */
  default boolean canDecode() {
    return false;
  }

  default int[] encode(String text) {
    throw new UnsupportedOperationException(id() + " cannot encode");
  }

  default String decode(int[] ids) {
    throw new UnsupportedOperationException(id() + " cannot decode");
  }

  /** Ids below this bound are ordinary tokens to draw random prompts from (0 if unknown). */
  default int vocabSize() {
    return 0;
  }

  /** A random ordinary token id (no special tokens), for random prompts. */
  default int randomTokenId(java.util.Random random) {
    return random.nextInt(vocabSize());
  }

  /** Whether counts are exact for the target model (false for the word approximation). */
  default boolean exact() {
    return true;
  }
}
