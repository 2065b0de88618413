package dev.baton.model;

import java.util.PriorityQueue;

/**
 * SentencePiece BPE as llama.cpp runs it ({@code tokenizer.ggml.model = llama}: Llama 2, TinyLlama,
 * Mistral): spaces become '▁', a '▁' is prefixed to text at the start and after special tokens
 * ({@code add_space_prefix}), adjacent pieces merge highest score first when the joined piece is a
 * token, and characters outside the vocabulary fall back to {@code <0xXX>} byte tokens.
 */
final class SentencePieceTokenizer extends VocabTokenizer {
  private static final char SPACE = '\u2581';

  private final float[] scores;
  private final boolean addSpacePrefix;
  private final int unk;
  private final int[] byteTokens = new int[256];
  private final byte[] byteOf;

  /**
   * True when no token has a '▁' right after another character: then no merge crosses the start of
   * a word, and the text can be encoded (and cached) word by word with the same result.
   */
  private final boolean wordsAreIndependent;

  SentencePieceTokenizer(GgufFile f) {
    super(f, true);
    int n = tokens.length;
    if (f.has("tokenizer.ggml.scores")) {
      scores = f.getFloatArray("tokenizer.ggml.scores");
      if (scores.length != n) {
        throw new ModelFormatException(
            f.path() + ": tokenizer.ggml.scores has " + scores.length + " entries for " + n);
      }
    } else {
      scores = new float[n];
    }
    addSpacePrefix = f.getBool("tokenizer.ggml.add_space_prefix", true);
    int u = f.getInt("tokenizer.ggml.unknown_token_id", 0);
    unk = u >= 0 && u < n ? u : -1;
    boolean independent = true;
    for (String t : tokens) {
      for (int i = 1; i < t.length() && independent; i++) {
        if (t.charAt(i) == SPACE && t.charAt(i - 1) != SPACE) {
          independent = false;
        }
      }
    }
    wordsAreIndependent = independent;
    byteOf = new byte[n];
    java.util.Arrays.fill(byteTokens, -1);
    for (int i = 0; i < n; i++) {
      String t = tokens[i];
      if (t.length() == 6 && t.startsWith("<0x") && t.endsWith(">")) {
        try {
          int b = Integer.parseInt(t.substring(3, 5), 16);
          if (byteTokens[b] < 0 || types[i] == TYPE_BYTE) {
            byteTokens[b] = i;
          }
          byteOf[i] = (byte) b;
        } catch (NumberFormatException e) {
          // a token that only looks like a byte token
        }
      }
    }
  }

  @Override
  void encodeText(String text, boolean afterSpecial, IntList out) {
    // A literal '▁' in the input would decode as a space; spell it in byte tokens instead so that
    // decoding gives the text back.
    int mark = text.indexOf(SPACE);
    if (mark >= 0 && byteTokens[0xE2] >= 0 && byteTokens[0x96] >= 0 && byteTokens[0x81] >= 0) {
      if (mark > 0 || (addSpacePrefix && afterSpecial)) {
        encodePlain(text.substring(0, mark), afterSpecial, out);
      }
      out.add(byteTokens[0xE2]);
      out.add(byteTokens[0x96]);
      out.add(byteTokens[0x81]);
      if (mark + 1 < text.length()) {
        encodeText(text.substring(mark + 1), false, out);
      }
      return;
    }
    encodePlain(text, afterSpecial, out);
  }

  private void encodePlain(String text, boolean afterSpecial, IntList out) {
    String s = (addSpacePrefix && afterSpecial ? " " : "") + text;
    if (s.isEmpty()) {
      return;
    }
    s = s.replace(' ', SPACE);
    if (!wordsAreIndependent) {
      encodeWord(s, out);
      return;
    }
    int start = 0;
    for (int i = 1; i < s.length(); i++) {
      if (s.charAt(i) == SPACE && s.charAt(i - 1) != SPACE) {
        encodeWord(s.substring(start, i), out);
        start = i;
      }
    }
    encodeWord(s.substring(start), out);
  }

  private void encodeWord(String s, IntList out) {
    int[] cached = cache.get(s);
    if (cached == null) {
      cached = bpe(s);
      cachePut(s, cached);
    }
    out.addAll(cached);
  }

  private record Candidate(float score, int left, int right, int len) {}

  private int[] bpe(String s) {
    // symbols are code points; start[i]/len[i] in chars; linked list through prev/next
    int cps = s.codePointCount(0, s.length());
    int[] start = new int[cps];
    int[] len = new int[cps];
    int[] prev = new int[cps];
    int[] next = new int[cps];
    for (int i = 0, off = 0; i < cps; i++) {
      int c = s.codePointAt(off);
      start[i] = off;
      len[i] = Character.charCount(c);
      off += len[i];
      prev[i] = i - 1;
      next[i] = i + 1 < cps ? i + 1 : -1;
    }
    PriorityQueue<Candidate> heap =
        new PriorityQueue<>(
            (a, b) ->
                a.score != b.score
                    ? Float.compare(b.score, a.score)
                    : Integer.compare(a.left, b.left));
    for (int i = 0; i + 1 < cps; i++) {
      offer(heap, s, start, len, i, i + 1);
    }
    while (!heap.isEmpty()) {
      Candidate c = heap.poll();
      if (len[c.left] == 0
          || len[c.right] == 0
          || len[c.left] + len[c.right] != c.len
          || next[c.left] != c.right) {
        continue; // stale
      }
      len[c.left] += len[c.right];
      len[c.right] = 0;
      next[c.left] = next[c.right];
      if (next[c.right] >= 0) {
        prev[next[c.right]] = c.left;
      }
      if (prev[c.left] >= 0) {
        offer(heap, s, start, len, prev[c.left], c.left);
      }
      if (next[c.left] >= 0) {
        offer(heap, s, start, len, c.left, next[c.left]);
      }
    }
    IntList out = new IntList(cps);
    for (int i = 0; i >= 0 && i < cps; i = next[i]) {
      String piece = s.substring(start[i], start[i] + len[i]);
      Integer id = ids.get(piece);
      if (id != null) {
        out.add(id);
        continue;
      }
      for (byte b : Tokenizer.utf8(piece)) {
        int bt = byteTokens[b & 0xff];
        if (bt >= 0) {
          out.add(bt);
        } else if (unk >= 0) {
          out.add(unk);
        }
      }
    }
    return out.toArray();
  }

  private void offer(
      PriorityQueue<Candidate> heap, String s, int[] start, int[] len, int left, int right) {
    String joined = s.substring(start[left], start[right] + len[right]);
    Integer id = ids.get(joined);
    if (id != null) {
      heap.add(new Candidate(scores[id], left, right, len[left] + len[right]));
    }
  }

  @Override
  public byte[] tokenBytes(int id, boolean renderSpecial) {
    int t = types[id];
    if (t == TYPE_CONTROL || t == TYPE_UNKNOWN) {
      return renderSpecial ? Tokenizer.utf8(tokens[id]) : new byte[0];
    }
    if (t == TYPE_BYTE) {
      return new byte[] {byteOf[id]};
    }
    return Tokenizer.utf8(tokens[id].replace(SPACE, ' '));
  }

  @Override
  public boolean stripsLeadingSpace() {
    return addSpacePrefix;
  }
}
