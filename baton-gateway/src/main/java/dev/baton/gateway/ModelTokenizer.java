package dev.baton.gateway;

import dev.baton.gateway.policy.PromptTokenizer;
import dev.baton.model.GgufFile;
import dev.baton.model.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads the model's tokenizer from the GGUF file named by the config's {@code tokenizer} key, so
 * the prefix index cuts prompts into the same token blocks the workers' caches use. Without one the
 * index falls back to character chunks.
 */
public final class ModelTokenizer {

  private ModelTokenizer() {}

  /** The tokenizer of the GGUF file at {@code path}; null when {@code path} is null. */
  public static PromptTokenizer load(String path) {
    if (path == null) {
      return null;
    }
    Path file = Path.of(path);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("tokenizer: " + path + " is not a file");
    }
    Tokenizer tokenizer;
    try (GgufFile gguf = GgufFile.open(file)) {
      tokenizer = Tokenizer.fromGguf(gguf);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "tokenizer: cannot read " + path + ": " + e.getMessage(), e);
    }
    return text -> tokenizer.encode(text);
  }
}
