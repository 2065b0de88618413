package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.model.internal.ByteUnicode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenizerTest {
  @TempDir static Path dir;
  static Tokenizer bpe;
  static GgufFile bpeFile;
  static Tokenizer spm;
  static GgufFile spmFile;

  /** Like spm, plus a piece with '▁' inside ("e▁"), so words cannot be encoded one by one. */
  static Tokenizer spmJoined;

  static GgufFile spmJoinedFile;

  private static String[] joined() {
    String[] p = java.util.Arrays.copyOf(SPM_PIECES, SPM_PIECES.length + 1);
    p[p.length - 1] = "e▁";
    return p;
  }

  /** SentencePiece pieces in priority order (earlier = higher score). */
  static final String[] SPM_PIECES = {
    "▁", "e", "t", "a", "o", "n", "i", "h", "s", "r", "l", "d", "w", "c", "u", "m", "y", "x", "b",
    "f", "g", "p", "k", "v", ",", ".", "!", "?", "'", "1", "2", "3", "0", "T", "H", "é", "日", "本",
    "he", "ll", "llo", "▁t", "▁the", "▁a", "in", "an", "er", "on", "▁w", "or", "ld", "▁wor",
    "▁world", "▁he", "▁hello", "▁is", "is", "▁i", "日本", "▁日本", "▁▁", "▁▁▁▁", "en"
  };

  static final String[] SPM_JOINED_PIECES = joined();

  @BeforeAll
  static void build() {
    Path p = dir.resolve("small.gguf");
    RandomModel.write(p, RandomModel.Preset.SMALL.spec, 1, GgmlType.F32);
    bpeFile = GgufFile.open(p);
    bpe = Tokenizer.fromGguf(bpeFile);

    spmFile = GgufFile.open(writeSpm("spm.gguf", SPM_PIECES));
    spm = Tokenizer.fromGguf(spmFile);
    spmJoinedFile = GgufFile.open(writeSpm("spm-joined.gguf", SPM_JOINED_PIECES));
    spmJoined = Tokenizer.fromGguf(spmJoinedFile);
  }

  static Path writeSpm(String name, String[] pieces) {
    List<String> tokens = new ArrayList<>();
    List<Integer> types = new ArrayList<>();
    List<Float> scores = new ArrayList<>();
    tokens.add("<unk>");
    types.add(2);
    tokens.add("<s>");
    types.add(3);
    tokens.add("</s>");
    types.add(3);
    for (int b = 0; b < 256; b++) {
      tokens.add(String.format("<0x%02X>", b));
      types.add(6);
    }
    for (int i = 0; i < 3 + 256; i++) {
      scores.add(0f);
    }
    for (int i = 0; i < pieces.length; i++) {
      tokens.add(pieces[i]);
      types.add(1);
      scores.add(-i * 1f);
    }
    tokens.add("<|user|>");
    types.add(4);
    scores.add(0f);
    float[] sc = new float[scores.size()];
    int[] ty = new int[types.size()];
    for (int i = 0; i < sc.length; i++) {
      sc[i] = scores.get(i);
      ty[i] = types.get(i);
    }
    Path s = dir.resolve(name);
    new GgufWriter()
        .putString("tokenizer.ggml.model", "llama")
        .putStringArray("tokenizer.ggml.tokens", tokens)
        .putFloat32Array("tokenizer.ggml.scores", sc)
        .putInt32Array("tokenizer.ggml.token_type", ty)
        .putUInt32("tokenizer.ggml.bos_token_id", 1)
        .putUInt32("tokenizer.ggml.eos_token_id", 2)
        .putUInt32("tokenizer.ggml.unknown_token_id", 0)
        .write(s);
    return s;
  }

  // ---------- random text ----------

  private static final String[] FRAGMENTS = {
    "the",
    " the",
    "hello",
    " world",
    "Hello",
    "HELLO",
    "don't",
    "I'M",
    "'s",
    "123",
    "4567890",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    " \n ",
    "\u00a0",
    "\u3000",
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇫🇷",
    "日本語",
    "中文字符",
    "한국어",
    "é",
    "e\u0301",
    "a\u0308\u0301",
    "ñ",
    "Ω",
    "ſ",
    "ß",
    "مرحبا",
    "שלום",
    "हिन्दी",
    "<|eot_id|>",
    "<s>",
    "</s>",
    "<0xFF>",
    "<unk>",
    "Ġ",
    "Ċ",
    "▁",
    "▁▁",
    "\u0000",
    "\u001b[0m",
    "\uFFFD",
    "\uFEFF",
    "<|user|>",
    "{\"a\": 1}",
    "x=y+z;",
    "...",
    "!!!",
    "?",
    "—",
    "€100",
    "3.14",
    "a\u200db",
    "\u2028",
    "\uD83D\uDE00"
  };

  static String randomText(Random rnd) {
    StringBuilder sb = new StringBuilder();
    int parts = 1 + rnd.nextInt(12);
    for (int i = 0; i < parts; i++) {
      switch (rnd.nextInt(4)) {
        case 0, 1 -> sb.append(FRAGMENTS[rnd.nextInt(FRAGMENTS.length)]);
        case 2 -> {
          int len = 1 + rnd.nextInt(6);
          for (int k = 0; k < len; k++) {
            sb.append((char) ('a' + rnd.nextInt(26)));
          }
        }
        default -> {
          int cp;
          do {
            cp = rnd.nextInt(0x30000);
          } while (cp >= 0xD800 && cp <= 0xDFFF || !Character.isDefined(cp));
          sb.appendCodePoint(cp);
        }
      }
    }
    return sb.toString();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bpe", "spm", "spmJoined"})
  void encodeThenDecodeReturnsTheText(String kind) {
    Tokenizer t = kind.equals("bpe") ? bpe : kind.equals("spm") ? spm : spmJoined;
    Random rnd = new Random(kind.hashCode());
    for (int i = 0; i < 2000; i++) {
      String text = randomText(rnd);
      int[] ids = t.encode(text, i % 2 == 0, false);
      assertThat(t.decode(ids)).as("text %s", escape(text)).isEqualTo(text);
      for (int id : ids) {
        assertThat(id).isBetween(0, t.vocabSize() - 1);
      }
    }
    assertThat(t.encode("", false, false)).isEmpty();
    assertThat(t.decode(t.encode("", true, false))).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bpe", "spm"})
  void streamingDecodeNeverSplitsACharacter(String kind) {
    Tokenizer t = kind.equals("bpe") ? bpe : spm;
    Random rnd = new Random(99);
    for (int i = 0; i < 500; i++) {
      String text = randomText(rnd);
      int[] ids = t.encode(text, false, false);
      Detokenizer d = t.newDetokenizer();
      StringBuilder sb = new StringBuilder();
      for (int id : ids) {
        String piece = d.push(id);
        if (!text.contains("\uFFFD")) {
          assertThat(piece).doesNotContain("\uFFFD");
        }
        if (!piece.isEmpty()) {
          assertThat(Character.isHighSurrogate(piece.charAt(piece.length() - 1))).isFalse();
        }
        sb.append(piece);
      }
      sb.append(d.flush());
      assertThat(sb.toString()).as("text %s", escape(text)).isEqualTo(text);
    }
  }

  @Test
  void streamingMatchesFullDecodeOnArbitraryIds() {
    Random rnd = new Random(5);
    for (Tokenizer t : List.of(bpe, spm)) {
      for (int i = 0; i < 300; i++) {
        int[] ids = rnd.ints(1 + rnd.nextInt(20), 0, t.vocabSize()).toArray();
        Detokenizer d = new Detokenizer(t, false);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
          sb.append(d.push(id));
        }
        sb.append(d.flush());
        assertThat(sb.toString()).isEqualTo(t.decode(ids));
      }
    }
  }

  @Test
  void decodeRejectsIdsOutsideTheVocabulary() {
    assertThatThrownBy(() -> bpe.decode(new int[] {5, 2048}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("token id 2048 is out of the vocabulary (size 2048)");
    assertThatThrownBy(() -> spm.decode(new int[] {-1})).hasMessageContaining("token id -1");
  }

  // ---------- byte-level BPE ----------

  @Test
  void byteLevelSpecialsBosAndEos() {
    int bos = bpe.bosId();
    assertThat(bpe.token(bos)).isEqualTo("<|begin_of_text|>");
    int eot = bpe.tokenId("<|eot_id|>");
    assertThat(bpe.eotId()).isEqualTo(eot);
    assertThat(bpe.isEos(eot)).isTrue();
    assertThat(bpe.isEos(bpe.tokenId("<|end_of_text|>"))).isTrue();
    assertThat(bpe.isEos(bos)).isFalse();
    assertThat(bpe.isSpecial(eot)).isTrue();
    assertThat(bpe.addBosByDefault()).isTrue();

    String text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    int[] parsed = bpe.encode(text, true, true);
    assertThat(parsed[0]).isEqualTo(bos);
    assertThat(parsed[1]).isEqualTo(bpe.tokenId("<|start_header_id|>"));
    assertThat(parsed[parsed.length - 1]).isEqualTo(eot);
    assertThat(bpe.decode(parsed, true)).isEqualTo("<|begin_of_text|>" + text);
    assertThat(bpe.decode(parsed)).isEqualTo("user\n\nHi");
    int[] plain = bpe.encode(text, false, false);
    assertThat(plain).doesNotContain(eot);
    assertThat(bpe.decode(plain)).isEqualTo(text);
  }

  @Test
  void byteLevelMatchesANaiveBpe() {
    String[] merges = bpeFile.getStringArray("tokenizer.ggml.merges");
    Map<String, Integer> rank = new HashMap<>();
    for (int i = 0; i < merges.length; i++) {
      rank.put(merges[i], i);
    }
    List<Pattern> chain = ByteLevelBpeTokenizer.preTokenizer("llama-bpe");
    Random rnd = new Random(11);
    for (int i = 0; i < 300; i++) {
      String text = randomText(rnd);
      List<Integer> expected = new ArrayList<>();
      for (String piece : ByteLevelBpeTokenizer.preTokenize(chain, text)) {
        byte[] b = piece.getBytes(StandardCharsets.UTF_8);
        String whole = ByteUnicode.encode(b, 0, b.length);
        if (bpe.tokenId(whole) >= 0) { // llama-bpe ignores merges for whole-token pieces
          expected.add(bpe.tokenId(whole));
          continue;
        }
        List<String> syms = new ArrayList<>();
        for (char c : whole.toCharArray()) {
          syms.add(String.valueOf(c));
        }
        while (true) {
          int best = -1;
          int bestRank = Integer.MAX_VALUE;
          for (int k = 0; k + 1 < syms.size(); k++) {
            Integer r = rank.get(syms.get(k) + " " + syms.get(k + 1));
            if (r != null && r < bestRank) {
              bestRank = r;
              best = k;
            }
          }
          if (best < 0) {
            break;
          }
          syms.set(best, syms.get(best) + syms.remove(best + 1));
        }
        for (String s : syms) {
          expected.add(bpe.tokenId(s));
        }
      }
      assertThat(bpe.encode(text, false, false))
          .as("text %s", escape(text))
          .containsExactly(expected.stream().mapToInt(x -> x).toArray());
    }
  }

  @Test
  void commonWordsBecomeSingleTokens() {
    int[] ids = bpe.encode(" the", false, false);
    assertThat(ids).hasSize(1);
    assertThat(bpe.token(ids[0])).isEqualTo("Ġthe");
  }

  @Test
  void preTokenizerSplitsLikeTheReference() {
    String text = "Hello world 12345 don't\n\n  x";
    assertThat(
            ByteLevelBpeTokenizer.preTokenize(
                ByteLevelBpeTokenizer.preTokenizer("llama-bpe"), text))
        .containsExactly("Hello", " world", " ", "123", "45", " don", "'t", "\n\n", " ", " x");
    assertThat(ByteLevelBpeTokenizer.preTokenize(ByteLevelBpeTokenizer.preTokenizer("qwen2"), text))
        .containsExactly(
            "Hello", " world", " ", "1", "2", "3", "4", "5", " don", "'t", "\n\n", " ", " x");
    assertThat(
            ByteLevelBpeTokenizer.preTokenize(ByteLevelBpeTokenizer.preTokenizer("smollm"), text))
        .containsExactly(
            "Hello", " world", " ", "1", "2", "3", "4", "5", " don", "'t", "\n\n ", " x");
    assertThat(
            ByteLevelBpeTokenizer.preTokenize(ByteLevelBpeTokenizer.preTokenizer("gpt2"), "a  b"))
        .containsExactly("a", " ", " b");
    assertThat(
            ByteLevelBpeTokenizer.preTokenize(
                ByteLevelBpeTokenizer.preTokenizer("llama3"), "I'M ſ's"))
        .containsExactly("I", "'M", " ſ", "'s");
    assertThatThrownBy(() -> ByteLevelBpeTokenizer.preTokenizer("tekken9"))
        .hasMessageContaining("unsupported pre-tokenizer 'tekken9'");
  }

  // ---------- SentencePiece ----------

  @Test
  void sentencePieceMergesByScoreAndFallsBackToBytes() {
    int[] ids = spm.encode("hello world", true, false);
    assertThat(ids[0]).isEqualTo(1);
    assertThat(spm.token(ids[1])).isEqualTo("▁hello");
    assertThat(spm.token(ids[2])).isEqualTo("▁world");
    assertThat(ids).hasSize(3);
    int[] emoji = spm.encode("😀", false, false);
    assertThat(emoji).hasSize(5); // ▁ + four byte tokens
    assertThat(spm.token(emoji[1])).isEqualTo("<0xF0>");
    assertThat(spm.decode(emoji)).isEqualTo("😀");
    assertThat(spm.addBosByDefault()).isTrue();
    assertThat(spm.isEos(2)).isTrue();
    assertThat(spm.stripsLeadingSpace()).isTrue();
  }

  @Test
  void aContinuationFromIdsCutInsideACharacterCompletesIt() {
    int[] ids = bpe.encode("caf\u00e9 \u4e16\u754c", false, false);
    String whole = bpe.decode(ids);
    for (int cut = 1; cut < ids.length; cut++) {
      // The first worker streams ids[0..cut) (holding back an unfinished character) and dies; a
      // second one continues from the ids and must emit exactly the rest of the text.
      Detokenizer first = Detokenizer.continuing(bpe, false);
      StringBuilder sent = new StringBuilder();
      for (int i = 0; i < cut; i++) {
        sent.append(first.push(ids[i]));
      }
      Detokenizer second = Detokenizer.continuing(bpe, false, java.util.Arrays.copyOf(ids, cut));
      for (int i = cut; i < ids.length; i++) {
        sent.append(second.push(ids[i]));
      }
      sent.append(second.flush());
      assertThat(sent.toString()).as("cut after %d ids", cut).isEqualTo(whole);
    }
  }

  @Test
  void continuingDetokenizerKeepsTheWordSpace() {
    int[] prompt = spm.encode("hello", true, false);
    int[] generated = spm.encode("world", false, false); // the token a model would produce
    assertThat(spm.token(generated[0])).isEqualTo("▁world");
    Detokenizer d = Detokenizer.continuing(spm, false);
    assertThat(d.push(generated[0]) + d.flush()).isEqualTo(" world");
    assertThat(spm.decode(prompt) + " world").isEqualTo("hello world");
    Detokenizer b = Detokenizer.continuing(bpe, false);
    int[] g = bpe.encode(" the", false, false);
    assertThat(b.push(g[0])).isEqualTo(" the");
  }

  @Test
  void sentencePieceSpecialsAndUserDefinedTokens() {
    int[] ids = spm.encode("hi</s>the", false, true);
    assertThat(ids).contains(2);
    // a space is prefixed after a special token, as llama.cpp does
    assertThat(spm.token(ids[ids.length - 1])).isEqualTo("▁the");
    int user = spm.tokenId("<|user|>");
    assertThat(spm.encode("a<|user|>b", false, false)).contains(user); // user-defined: always
    assertThat(spm.encode("a</s>b", false, false)).doesNotContain(2);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void sentencePieceMatchesANaiveBpe(boolean joinedVocab) {
    String[] pieces = joinedVocab ? SPM_JOINED_PIECES : SPM_PIECES;
    Tokenizer spm = joinedVocab ? spmJoined : TokenizerTest.spm;
    Map<String, Float> score = new HashMap<>();
    for (int i = 0; i < pieces.length; i++) {
      score.put(pieces[i], -i * 1f);
    }
    Random rnd = new Random(12);
    for (int i = 0; i < 300; i++) {
      String text = randomText(rnd).replace("▁", "").replace("<|user|>", "");
      if (text.isEmpty()) {
        continue;
      }
      String s = (" " + text).replace(' ', '▁');
      List<String> syms = new ArrayList<>();
      s.codePoints().forEach(c -> syms.add(Character.toString(c)));
      while (true) {
        int best = -1;
        float bestScore = Float.NEGATIVE_INFINITY;
        for (int k = 0; k + 1 < syms.size(); k++) {
          Float sc = score.get(syms.get(k) + syms.get(k + 1));
          if (sc != null && sc > bestScore) {
            bestScore = sc;
            best = k;
          }
        }
        if (best < 0) {
          break;
        }
        syms.set(best, syms.get(best) + syms.remove(best + 1));
      }
      List<Integer> expected = new ArrayList<>();
      for (String sym : syms) {
        int id = spm.tokenId(sym);
        if (id >= 0 && score.containsKey(sym)) {
          expected.add(id);
        } else {
          for (byte b : sym.getBytes(StandardCharsets.UTF_8)) {
            expected.add(spm.tokenId(String.format("<0x%02X>", b & 0xff)));
          }
        }
      }
      assertThat(spm.encode(text, false, false))
          .as("text %s", escape(text))
          .containsExactly(expected.stream().mapToInt(x -> x).toArray());
    }
  }

  @Test
  void unknownTokenizerModelIsNamed() {
    Path p = dir.resolve("wp.gguf");
    new GgufWriter()
        .putString("tokenizer.ggml.model", "bert")
        .putStringArray("tokenizer.ggml.tokens", List.of("a"))
        .write(p);
    try (GgufFile f = GgufFile.open(p)) {
      assertThatThrownBy(() -> Tokenizer.fromGguf(f))
          .isInstanceOf(ModelFormatException.class)
          .hasMessageContaining("unsupported tokenizer 'bert'");
    }
  }

  static String escape(String s) {
    StringBuilder sb = new StringBuilder();
    s.codePoints()
        .forEach(
            c -> {
              if (c >= 0x20 && c < 0x7f) {
                sb.appendCodePoint(c);
              } else {
                sb.append(String.format("\\u{%x}", c));
              }
            });
    return sb.toString();
  }
}
