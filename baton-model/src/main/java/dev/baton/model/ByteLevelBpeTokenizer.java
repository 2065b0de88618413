package dev.baton.model;

import dev.baton.model.internal.ByteUnicode;
import dev.baton.model.internal.LongLongMap;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE as in GPT-2 and Llama 3 ({@code tokenizer.ggml.model = gpt2}): text is split by
 * the pre-tokenizer regexes that {@code tokenizer.ggml.pre} names, each piece's UTF-8 bytes become
 * byte symbols, and merges apply lowest rank first.
 */
final class ByteLevelBpeTokenizer extends VocabTokenizer {

  /** Unicode \\s as in the reference tokenizers; no case folding (llama.cpp spells [sS]). */
  private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS;

  private static final String CONTRACTIONS =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

  /** GPT-2's split: contractions, letters, numbers, other symbols, whitespace. */
  static final String GPT2 =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

  /** Llama 3: numbers in groups of up to three, letters may take one leading non-letter. */
  static final String LLAMA3 =
      CONTRACTIONS
          + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
          + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  /** Qwen2: as Llama 3 but every digit on its own. */
  static final String QWEN2 =
      CONTRACTIONS
          + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
          + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  /** The regex chain for a {@code tokenizer.ggml.pre} name (applied one after the other). */
  static List<Pattern> preTokenizer(String pre) {
    List<String> rx =
        switch (pre) {
          case "default", "gpt2", "gpt-2" -> List.of(GPT2);
          case "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral" -> List.of(LLAMA3);
          case "qwen2", "deepseek-r1-qwen", "qwen35" -> List.of(QWEN2);
          case "smollm", "starcoder", "refact", "command-r" -> List.of("\\p{N}", GPT2);
          default ->
              throw new ModelFormatException(
                  "unsupported pre-tokenizer '"
                      + pre
                      + "' (Baton knows default, gpt2, llama-bpe, llama3, qwen2, smollm)");
        };
    return rx.stream().map(r -> Pattern.compile(r, FLAGS)).toList();
  }

  private final List<Pattern> split;
  private final boolean ignoreMerges;
  private final int[] byteTokens = new int[256];

  /** (left id, right id) -> (rank << 32 | merged id). */
  private final LongLongMap merges;

  ByteLevelBpeTokenizer(GgufFile f) {
    super(f, false);
    String pre = f.getString("tokenizer.ggml.pre", "default");
    try {
      split = preTokenizer(pre);
    } catch (ModelFormatException e) {
      throw new ModelFormatException(f.path() + ": " + e.getMessage(), e);
    }
    // Llama 3's tokenizer takes a piece that is itself a token as is (HF ignore_merges).
    ignoreMerges = pre.startsWith("llama");
    for (int b = 0; b < 256; b++) {
      byteTokens[b] = tokenId(String.valueOf(ByteUnicode.toChar(b)));
      if (byteTokens[b] < 0) {
        throw new ModelFormatException(
            f.path() + ": byte-level vocabulary lacks the token for byte " + b);
      }
    }
    String[] m =
        f.has("tokenizer.ggml.merges") ? f.getStringArray("tokenizer.ggml.merges") : new String[0];
    merges = new LongLongMap(m.length);
    for (int rank = 0; rank < m.length; rank++) {
      int sp = m[rank].indexOf(' ', 1);
      if (sp < 0) {
        throw new ModelFormatException(f.path() + ": malformed merge '" + m[rank] + "'");
      }
      String left = m[rank].substring(0, sp);
      String right = m[rank].substring(sp + 1);
      int l = tokenId(left);
      int r = tokenId(right);
      int merged = tokenId(left + right);
      if (l < 0 || r < 0 || merged < 0) {
        continue; // a merge whose parts or result are not tokens can never apply
      }
      merges.putIfAbsent(((long) l << 32) | r, ((long) rank << 32) | merged);
    }
  }

  /** Splits {@code text} into pre-token pieces with the regex chain (unmatched spans kept). */
  static List<String> preTokenize(List<Pattern> chain, String text) {
    List<String> pieces = List.of(text);
    for (Pattern p : chain) {
      List<String> next = new ArrayList<>();
      for (String piece : pieces) {
        Matcher m = p.matcher(piece);
        int last = 0;
        while (m.find()) {
          if (m.start() > last) {
            next.add(piece.substring(last, m.start()));
          }
          if (m.end() > m.start()) {
            next.add(m.group());
          }
          last = m.end();
        }
        if (last < piece.length()) {
          next.add(piece.substring(last));
        }
      }
      pieces = next;
    }
    return pieces;
  }

  @Override
  void encodeText(String text, boolean afterSpecial, IntList out) {
    List<String> pieces = preTokenize(split, text);
    for (String piece : pieces) {
      int[] cached = cache.get(piece);
      if (cached == null) {
        cached = bpe(piece);
        cachePut(piece, cached);
      }
      out.addAll(cached);
    }
  }

  private record Candidate(int rank, int pos, int left, int right) {}

  /** BPE over the bytes of one pre-token piece. */
  private int[] bpe(String piece) {
    byte[] bytes = Tokenizer.utf8(piece);
    if (ignoreMerges) {
      int whole = tokenId(ByteUnicode.encode(bytes, 0, bytes.length));
      if (whole >= 0) {
        return new int[] {whole};
      }
    }
    int n = bytes.length;
    int[] sym = new int[n];
    int[] prev = new int[n];
    int[] next = new int[n];
    IntList out = new IntList(n);
    for (int i = 0; i < n; i++) {
      sym[i] = byteTokens[bytes[i] & 0xff];
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    PriorityQueue<Candidate> heap =
        new PriorityQueue<>(
            (a, b) ->
                a.rank != b.rank ? Integer.compare(a.rank, b.rank) : Integer.compare(a.pos, b.pos));
    for (int i = 0; i + 1 < n; i++) {
      offer(heap, i, sym[i], sym[i + 1]);
    }
    while (!heap.isEmpty()) {
      Candidate c = heap.poll();
      int r = next[c.pos];
      if (sym[c.pos] != c.left || r < 0 || sym[r] != c.right) {
        continue; // stale: one side was merged away since
      }
      long v = merges.get(((long) c.left << 32) | c.right, -1);
      sym[c.pos] = (int) v;
      sym[r] = -2; // dead
      next[c.pos] = next[r];
      if (next[r] >= 0) {
        prev[next[r]] = c.pos;
      }
      if (prev[c.pos] >= 0) {
        offer(heap, prev[c.pos], sym[prev[c.pos]], sym[c.pos]);
      }
      if (next[c.pos] >= 0) {
        offer(heap, c.pos, sym[c.pos], sym[next[c.pos]]);
      }
    }
    for (int i = 0; i >= 0 && i < n; i = next[i]) {
      if (sym[i] >= 0) {
        out.add(sym[i]);
      }
    }
    return out.toArray();
  }

  private void offer(PriorityQueue<Candidate> heap, int pos, int left, int right) {
    if (left < 0 || right < 0) {
      return;
    }
    long v = merges.get(((long) left << 32) | right, -1);
    if (v >= 0) {
      heap.add(new Candidate((int) (v >>> 32), pos, left, right));
    }
  }

  @Override
  public byte[] tokenBytes(int id, boolean renderSpecial) {
    int t = types[id];
    if (t == TYPE_CONTROL || t == TYPE_UNKNOWN) {
      return renderSpecial ? Tokenizer.utf8(tokens[id]) : new byte[0];
    }
    if (t != TYPE_USER_DEFINED) {
      byte[] b = ByteUnicode.decode(tokens[id]);
      if (b != null) {
        return b;
      }
    }
    return Tokenizer.utf8(tokens[id]);
  }

  @Override
  public boolean stripsLeadingSpace() {
    return false;
  }
}
