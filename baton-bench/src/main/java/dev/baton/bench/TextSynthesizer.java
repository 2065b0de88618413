package dev.baton.bench;

import java.util.Random;

/**
 * Builds random prompt text of a target token length. With a tokenizer that decodes (a GGUF
 * model's), it draws random token ids, decodes them, and trims or extends until re-encoding gives
 * the target length, as vLLM's random dataset does. With a counting-only tokenizer (the server's
 * {@code /tokenize}) it builds text from common words and corrects the word count from measured
 * token counts.
 */
public final class TextSynthesizer {

  /** Text and its measured token count (the target when the tokenizer allowed an exact hit). */
  public record Text(String text, int tokens) {}

  private static final int MAX_ROUNDS = 8;
  private final PromptTokenizer tokenizer;
  private double tokensPerWord = 1.0;

  public TextSynthesizer(PromptTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  public PromptTokenizer tokenizer() {
    return tokenizer;
  }

  /** Random text of about {@code target} tokens (exactly, when the tokenizer permits). */
  public Text randomText(int target, Random random) {
    if (target <= 0) {
      return new Text("", 0);
    }
    if (tokenizer.canDecode() && tokenizer.vocabSize() > 0) {
      return fromTokenIds(target, random);
    }
    return fromWords(target, random);
  }

  private Text fromTokenIds(int target, Random random) {
    int[] ids = new int[target];
    for (int i = 0; i < target; i++) {
      ids[i] = tokenizer.randomTokenId(random);
    }
    String text = tokenizer.decode(ids);
    int[] encoded = tokenizer.encode(text);
    Text best = new Text(text, encoded.length);
    for (int round = 0; round < MAX_ROUNDS && encoded.length != target; round++) {
      int[] adjusted;
      if (encoded.length > target) {
        adjusted = java.util.Arrays.copyOf(encoded, target);
      } else {
        adjusted = java.util.Arrays.copyOf(encoded, target);
        for (int i = encoded.length; i < target; i++) {
          adjusted[i] = tokenizer.randomTokenId(random);
        }
      }
      text = tokenizer.decode(adjusted);
      encoded = tokenizer.encode(text);
      if (Math.abs(encoded.length - target) < Math.abs(best.tokens() - target)) {
        best = new Text(text, encoded.length);
      }
    }
    return encoded.length == target ? new Text(text, target) : best;
  }

  private Text fromWords(int target, Random random) {
    StringBuilder words = new StringBuilder();
    int wordCount = Math.max(1, (int) Math.round(target / tokensPerWord));
    int[] offsets = new int[0];
    Text best = null;
    for (int round = 0; round < MAX_ROUNDS; round++) {
      offsets = extend(words, offsets, wordCount, random);
      String text = words.substring(0, offsets[wordCount]);
      int tokens = tokenizer.count(text);
      if (best == null || Math.abs(tokens - target) < Math.abs(best.tokens() - target)) {
        best = new Text(text, tokens);
      }
      if (tokens == target) {
        break;
      }
      double ratio = (double) tokens / wordCount;
      tokensPerWord = 0.5 * tokensPerWord + 0.5 * ratio;
      int step = (int) Math.round((target - tokens) / Math.max(0.1, ratio));
      if (step == 0) {
        step = tokens < target ? 1 : -1;
      }
      wordCount = Math.max(1, wordCount + step);
    }
    return best;
  }

  /**
   * Makes sure {@code words} holds at least {@code count} words; {@code offsets[k]} is the end of
   * the first k words.
   */
  private static int[] extend(StringBuilder words, int[] offsets, int count, Random random) {
    if (offsets.length > count) {
      return offsets;
    }
    int[] grown = java.util.Arrays.copyOf(offsets, count + 1);
    int have = Math.max(0, offsets.length - 1);
    for (int k = have; k < count; k++) {
      if (k > 0) {
        words.append(' ');
      }
      words.append(WordList.WORDS.get(random.nextInt(WordList.WORDS.size())));
      grown[k + 1] = words.length();
    }
    return grown;
  }
}
