package dev.baton.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What both tokenizer kinds share: the vocabulary, token types, BOS/EOS ids, special-token
 * splitting of text, and a per-chunk cache of encodings (chunks repeat a lot in real text).
 */
abstract class VocabTokenizer implements Tokenizer {
  /** End-of-generation token strings that llama.cpp also recognizes by name. */
  private static final Set<String> EOG_NAMES =
      Set.of(
          "<|eot_id|>",
          "<|end_of_text|>",
          "<|eom_id|>",
          "<|im_end|>",
          "<|endoftext|>",
          "</s>",
          "<end_of_turn>",
          "<|end|>",
          "<|return|>");

  private static final int CACHE_LIMIT = 100_000;

  final String[] tokens;
  final int[] types;
  final Map<String, Integer> ids;
  private final int bos;
  private final int eot;
  private final int[] eos;
  private final boolean addBos;

  /** Specials matched in text, longest first: always (user-defined) and parse-only (control). */
  private final String[] alwaysSpecials;

  private final String[] parsedSpecials;

  /** First characters of any special token: positions starting elsewhere skip the scan. */
  private final java.util.BitSet specialStarts = new java.util.BitSet();

  final Map<String, int[]> cache = new ConcurrentHashMap<>();

  VocabTokenizer(GgufFile f, boolean addBosDefault) {
    tokens = f.getStringArray("tokenizer.ggml.tokens");
    int n = tokens.length;
    if (n == 0) {
      throw new ModelFormatException(f.path() + ": empty tokenizer vocabulary");
    }
    if (f.has("tokenizer.ggml.token_type")) {
      types = f.getIntArray("tokenizer.ggml.token_type");
      if (types.length != n) {
        throw new ModelFormatException(
            f.path() + ": token_type has " + types.length + " entries for " + n + " tokens");
      }
    } else {
      types = new int[n];
      Arrays.fill(types, TYPE_NORMAL);
    }
    ids = new HashMap<>(n * 2);
    for (int i = 0; i < n; i++) {
      ids.putIfAbsent(tokens[i], i);
    }
    bos = optionalId(f, "tokenizer.ggml.bos_token_id", -1);
    int eosId = optionalId(f, "tokenizer.ggml.eos_token_id", -1);
    eot = optionalId(f, "tokenizer.ggml.eot_token_id", eosId);
    Set<Integer> eog = new LinkedHashSet<>();
    if (eosId >= 0) {
      eog.add(eosId);
    }
    if (eot >= 0) {
      eog.add(eot);
    }
    int eom = optionalId(f, "tokenizer.ggml.eom_token_id", -1);
    if (eom >= 0) {
      eog.add(eom);
    }
    for (int i = 0; i < n; i++) {
      if (types[i] == TYPE_CONTROL && EOG_NAMES.contains(tokens[i])) {
        eog.add(i);
      }
    }
    eos = eog.stream().mapToInt(Integer::intValue).toArray();
    addBos = f.getBool("tokenizer.ggml.add_bos_token", addBosDefault) && bos >= 0;
    List<String> always = new ArrayList<>();
    List<String> parsed = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (tokens[i].isEmpty()) {
        continue;
      }
      if (types[i] == TYPE_USER_DEFINED) {
        always.add(tokens[i]);
      } else if (types[i] == TYPE_CONTROL || types[i] == TYPE_UNKNOWN) {
        parsed.add(tokens[i]);
      }
    }
    Comparator<String> longestFirst = Comparator.comparingInt(String::length).reversed();
    always.sort(longestFirst);
    parsed.sort(longestFirst);
    for (String sp : always) {
      specialStarts.set(sp.charAt(0));
    }
    for (String sp : parsed) {
      specialStarts.set(sp.charAt(0));
    }
    alwaysSpecials = always.toArray(String[]::new);
    parsedSpecials = parsed.toArray(String[]::new);
  }

  private int optionalId(GgufFile f, String key, int fallback) {
    if (!f.has(key)) {
      return fallback;
    }
    long v = f.getLong(key);
    if (v < 0 || v >= tokens.length) {
      return -1;
    }
    return (int) v;
  }

  /**
   * Encodes one run of plain text (no specials); {@code afterSpecial}: starts the text or follows a
   * special token.
   */
  abstract void encodeText(String text, boolean afterSpecial, IntList out);

  @Override
  public int[] encode(String text, boolean addBos, boolean parseSpecial) {
    IntList out = new IntList(text.length() / 3 + 4);
    if (addBos && bos >= 0) {
      out.add(bos);
    }
    int start = 0;
    int pos = 0;
    boolean afterSpecial = true;
    int len = text.length();
    boolean anySpecials = alwaysSpecials.length > 0 || (parseSpecial && parsedSpecials.length > 0);
    while (anySpecials && pos < len) {
      if (!specialStarts.get(text.charAt(pos))) {
        pos++;
        continue;
      }
      String match = matchSpecial(text, pos, alwaysSpecials);
      if (match == null && parseSpecial) {
        match = matchSpecial(text, pos, parsedSpecials);
      }
      if (match == null) {
        pos++;
        continue;
      }
      if (pos > start) {
        encodeText(text.substring(start, pos), afterSpecial, out);
      }
      int id = ids.get(match);
      out.add(id);
      // SentencePiece prefixes a space after control tokens (llama.cpp); user-defined tokens are
      // part of the text, so what follows them is not re-prefixed and decodes back unchanged.
      afterSpecial = types[id] != TYPE_USER_DEFINED;
      pos += match.length();
      start = pos;
    }
    if (start < len) {
      encodeText(text.substring(start), afterSpecial, out);
    }
    return out.toArray();
  }

  private static String matchSpecial(String text, int pos, String[] specials) {
    for (String s : specials) {
      if (text.startsWith(s, pos)) {
        return s;
      }
    }
    return null;
  }

  /** Longer chunks are not cached: they rarely repeat and would hold whole prompts in memory. */
  private static final int CACHE_MAX_CHUNK = 256;

  /** Caches chunk encodings, dropping the whole cache when it grows past its limit. */
  void cachePut(String chunk, int[] value) {
    if (chunk.length() > CACHE_MAX_CHUNK) {
      return;
    }
    if (cache.size() > CACHE_LIMIT) {
      cache.clear();
    }
    cache.put(chunk, value);
  }

  @Override
  public String token(int id) {
    return tokens[id];
  }

  @Override
  public int tokenId(String token) {
    Integer id = ids.get(token);
    return id == null ? -1 : id;
  }

  @Override
  public int bosId() {
    return bos;
  }

  @Override
  public int[] eosIds() {
    return eos.clone();
  }

  @Override
  public int eotId() {
    return eot;
  }

  @Override
  public boolean isEos(int id) {
    for (int e : eos) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean isSpecial(int id) {
    return types[id] == TYPE_CONTROL || types[id] == TYPE_UNKNOWN;
  }

  @Override
  public int vocabSize() {
    return tokens.length;
  }

  @Override
  public boolean addBosByDefault() {
    return addBos;
  }

  /** Growable int list without boxing. */
  static final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
      a = new int[Math.max(4, capacity)];
    }

    void add(int v) {
      if (n == a.length) {
        a = Arrays.copyOf(a, n * 2);
      }
      a[n++] = v;
    }

    void addAll(int[] vs) {
      for (int v : vs) {
        add(v);
      }
    }

    int[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }
}
