package dev.baton.gateway;

/**
 * Loads the model's tokenizer from the GGUF file named by the config's {@code tokenizer} key, for
 * the prefix index. Without one the index falls back to character chunks.
 */
public final class ModelTokenizer {

  private ModelTokenizer() {}

  /** The tokenizer of the GGUF file at {@code path}; null when {@code path} is null. */
  public static PromptTokenizer load(String path) {
    if (path == null) {
      return null;
    }
    throw new IllegalArgumentException(
        "tokenizer: reading a GGUF tokenizer needs dev.baton.model's Tokenizer, which this build"
            + " does not have yet; remove the tokenizer key to use character-based prefix hashing");
  }
}
