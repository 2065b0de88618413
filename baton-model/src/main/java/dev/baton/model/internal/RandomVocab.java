package dev.baton.model.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deterministic Llama-3-style byte-level BPE vocabulary for random models: the 256 byte symbols
 * (token id = byte value), then merges learned by BPE on a small built-in English text, then
 * generated word-like merges until the requested size, then Llama 3's special tokens.
 *
 * @param tokens all tokens; the last {@code specialCount} are special (control) tokens
 * @param merges merges in rank order, each "left right"
 * @param specialCount special tokens at the end of {@code tokens}
 */
public record RandomVocab(List<String> tokens, List<String> merges, int specialCount) {

  /**
   * Llama 3's named special tokens at offsets 0..10 of the special range; the rest are reserved.
   */
  private static final String[] LLAMA3_SPECIALS = {
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>"
  };

  private static final String CORPUS =
      """
      The quick brown fox jumps over the lazy dog. A baton passes from one runner to the next,
      and the team that hands it over cleanly wins the race. In a serving system the prompt is
      read by one worker and the answer is written by another; the cache of keys and values is
      the baton. Models read tokens, compute attention over the context, and predict the next
      token. The weights of the model are stored in a file, and the file is mapped into memory
      so that the processor can read them quickly. When many people send requests at the same
      time, the scheduler groups them into batches, because reading the weights once for many
      sequences is much cheaper than reading them again for every sequence. This is why batching
      matters so much for throughput, while latency depends on how long each step takes.
      Hello, world! How are you today? I am fine, thank you. What time is it? It is 12:30 now.
      There were 1024 tokens in the first prompt and 2048 in the second one. Numbers like 3.14,
      42, 100 and 2026 appear in text, and so do names, places, and dates. The system should
      work for everyone: it should be fast, correct, simple to run, and easy to understand.
      def main(): return the answer of the function to the caller, if the value is not None.
      """;

  private static final Pattern PRE =
      Pattern.compile(
          "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
              + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

  /** Total tokens (regular + special) in {@code vocabSize}; {@code specialCount} at the end. */
  public static RandomVocab build(int vocabSize, int specialCount) {
    int regular = vocabSize - specialCount;
    if (regular < 256 || specialCount < LLAMA3_SPECIALS.length) {
      throw new IllegalArgumentException(
          "vocabulary of "
              + vocabSize
              + " with "
              + specialCount
              + " special tokens is too small (needs 256 byte tokens and "
              + LLAMA3_SPECIALS.length
              + " specials)");
    }
    List<String> tokens = new ArrayList<>(vocabSize);
    Set<String> known = new HashSet<>();
    for (int b = 0; b < 256; b++) {
      String s = String.valueOf(ByteUnicode.toChar(b));
      tokens.add(s);
      known.add(s);
    }
    List<String> merges = new ArrayList<>();
    learnMerges(regular - 256, tokens, known, merges);
    generateMerges(regular - 256, tokens, known, merges);
    for (int i = 0; i < specialCount; i++) {
      tokens.add(
          i < LLAMA3_SPECIALS.length
              ? LLAMA3_SPECIALS[i]
              : "<|reserved_special_token_" + (i - 8) + "|>");
    }
    return new RandomVocab(List.copyOf(tokens), List.copyOf(merges), specialCount);
  }

  /** Plain BPE training on the built-in corpus (most frequent pair first, ties by text). */
  private static void learnMerges(
      int limit, List<String> tokens, Set<String> known, List<String> merges) {
    Map<String, Integer> wordCounts = new LinkedHashMap<>();
    Matcher m = PRE.matcher(CORPUS);
    while (m.find()) {
      byte[] b = m.group().getBytes(StandardCharsets.UTF_8);
      wordCounts.merge(ByteUnicode.encode(b, 0, b.length), 1, Integer::sum);
    }
    List<List<String>> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
      List<String> syms = new ArrayList<>();
      e.getKey().codePoints().forEach(c -> syms.add(Character.toString(c)));
      words.add(syms);
      counts.add(e.getValue());
    }
    while (merges.size() < limit) {
      Map<String, Integer> pairs = new HashMap<>();
      for (int w = 0; w < words.size(); w++) {
        List<String> syms = words.get(w);
        for (int i = 0; i + 1 < syms.size(); i++) {
          pairs.merge(syms.get(i) + " " + syms.get(i + 1), counts.get(w), Integer::sum);
        }
      }
      String best = null;
      int bestCount = 1;
      for (Map.Entry<String, Integer> e : pairs.entrySet()) {
        if (e.getValue() > bestCount
            || (e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
          best = e.getKey();
          bestCount = e.getValue();
        }
      }
      if (best == null) {
        return;
      }
      int sp = best.indexOf(' ');
      String left = best.substring(0, sp);
      String right = best.substring(sp + 1);
      String merged = left + right;
      merges.add(best);
      tokens.add(merged);
      known.add(merged);
      for (List<String> syms : words) {
        for (int i = 0; i + 1 < syms.size(); i++) {
          if (syms.get(i).equals(left) && syms.get(i + 1).equals(right)) {
            syms.set(i, merged);
            syms.remove(i + 1);
          }
        }
      }
    }
  }

  /** Word-like merges: a (Ġ-prefixed or bare) letter token joined with a bare letter token. */
  private static void generateMerges(
      int limit, List<String> tokens, Set<String> known, List<String> merges) {
    List<String> heads = new ArrayList<>();
    List<String> tails = new ArrayList<>();
    for (String t : tokens) {
      classify(t, heads, tails);
    }
    SplittableRandom rnd = new SplittableRandom(0x6261746f6eL);
    int attempts = 0;
    while (merges.size() < limit) {
      String left = heads.get(rnd.nextInt(heads.size()));
      String right = tails.get(rnd.nextInt(tails.size()));
      String merged = left + right;
      attempts++;
      if (known.contains(merged)) {
        if (attempts > 100 * (limit + 1000)) {
          throw new IllegalStateException("cannot generate " + limit + " merges");
        }
        continue;
      }
      merges.add(left + " " + right);
      tokens.add(merged);
      known.add(merged);
      classify(merged, heads, tails);
    }
  }

  private static void classify(String t, List<String> heads, List<String> tails) {
    String body = t.startsWith("Ġ") ? t.substring(1) : t;
    if (body.isEmpty()) {
      return;
    }
    for (int i = 0; i < body.length(); i++) {
      char c = body.charAt(i);
      if (c < 'a' || c > 'z') {
        return;
      }
    }
    if (t.length() <= 10) {
      heads.add(t);
    }
    if (body.equals(t) && t.length() <= 3) {
      tails.add(t);
    }
  }
}
