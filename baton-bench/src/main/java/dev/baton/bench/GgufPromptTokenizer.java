package dev.baton.bench;

import dev.baton.model.GgufFile;
import dev.baton.model.Tokenizer;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * The target model's own tokenizer, read from its GGUF file ({@code --tokenizer model.gguf}): exact
 * prompt lengths, and random prompts drawn from the model's ordinary (non-special) tokens.
 */
public final class GgufPromptTokenizer implements PromptTokenizer {

  private final String id;
  private final Tokenizer tokenizer;
  private final int[] ordinaryIds;

  GgufPromptTokenizer(String id, Tokenizer tokenizer) {
    this.id = id;
    this.tokenizer = tokenizer;
    int[] ordinary =
        IntStream.range(0, tokenizer.vocabSize()).filter(i -> !tokenizer.isSpecial(i)).toArray();
    if (ordinary.length == 0) {
      throw new IllegalArgumentException(id + ": the vocabulary has no ordinary tokens");
    }
    // Whole words with their leading space ("Ġthe", "▁the") survive decode + encode unchanged:
    // the pre-tokenizer splits at the spaces, so no merge crosses them. Random prompts made of
    // them re-encode to the intended length; other tokens are used only if there are too few.
    int[] words = IntStream.of(ordinary).filter(i -> isSpaceWord(tokenizer.token(i))).toArray();
    this.ordinaryIds = words.length >= 64 ? words : ordinary;
  }

  /** Reads the tokenizer of {@code path}; a file that is no GGUF is a clear error. */
  public static GgufPromptTokenizer open(Path path) {
    // The tokenizer copies the vocabulary out of the mapping, so the file can be closed.
    try (GgufFile file = GgufFile.open(path)) {
      return new GgufPromptTokenizer("gguf:" + path.getFileName(), Tokenizer.fromGguf(file));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "--tokenizer " + path + ": cannot read a tokenizer: " + e.getMessage(), e);
    }
  }

  private static boolean isSpaceWord(String token) {
    if (token == null || token.length() < 2) {
      return false;
    }
    char first = token.charAt(0);
    if (first != '\u0120' && first != '\u2581') {
      return false;
    }
    for (int i = 1; i < token.length(); i++) {
      if (!Character.isLetter(token.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public int count(String text) {
    return tokenizer.encode(text, false, false).length;
  }

  @Override
  public boolean canDecode() {
    return true;
  }

  @Override
  public int[] encode(String text) {
    return tokenizer.encode(text, false, false);
  }

  @Override
  public String decode(int[] ids) {
    return tokenizer.decode(ids);
  }

  @Override
  public int vocabSize() {
    return tokenizer.vocabSize();
  }

  @Override
  public int randomTokenId(Random random) {
    return ordinaryIds[random.nextInt(ordinaryIds.length)];
  }
}
