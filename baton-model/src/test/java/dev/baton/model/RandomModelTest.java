package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class RandomModelTest {
  @TempDir Path dir;

  @Test
  void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
    Path a = dir.resolve("a.gguf");
    Path b = dir.resolve("b.gguf");
    Path c = dir.resolve("c.gguf");
    RandomModel.write(a, RandomModel.Preset.TINY.spec, 5, GgmlType.Q8_0);
    RandomModel.write(b, RandomModel.Preset.TINY.spec, 5, GgmlType.Q8_0);
    RandomModel.write(c, RandomModel.Preset.TINY.spec, 6, GgmlType.Q8_0);
    assertThat(Files.mismatch(a, b)).isEqualTo(-1);
    assertThat(Files.mismatch(a, c)).isNotEqualTo(-1);
    assertThat(Files.size(a)).isEqualTo(Files.size(c));
  }

  @ParameterizedTest
  @EnumSource(GgmlType.class)
  void smallPresetInEveryType(GgmlType type) {
    Path p = dir.resolve("m.gguf");
    RandomModel.write(p, RandomModel.Preset.SMALL.spec, 1, type);
    try (GgufFile f = GgufFile.open(p)) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThat(c.vocabSize()).isEqualTo(2048);
      assertThat(c.tiedEmbeddings()).isTrue();
      LlamaWeights w = LlamaWeights.of(f, c);
      assertThat(w.layers().get(0).wq().type()).isEqualTo(type);
      assertThat(w.outputNorm().type()).isEqualTo(GgmlType.F32);
      // weights are sane: roughly uniform with variance 1/fan_in, norms near 1
      float[] row = w.layers().get(0).wq().row(3);
      double sq = 0;
      for (float v : row) {
        sq += v * v;
      }
      assertThat(sq / row.length).isBetween(0.5 / 256, 1.5 / 256);
      for (float v : w.layers().get(0).attnNorm().toFloatArray()) {
        assertThat(v).isBetween(0.85f, 1.15f);
      }
    }
  }

  @Test
  void tinyFallsBackToQ8_0WhereKQuantsDoNotFit() {
    Path p = dir.resolve("k.gguf");
    RandomModel.write(p, RandomModel.Preset.TINY.spec, 1, GgmlType.Q4_K);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.tensor("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q8_0);
    }
  }

  @Test
  void tokenizerMetadataIsCompleteAndConsistent() {
    Path p = dir.resolve("t.gguf");
    RandomModel.write(p, RandomModel.Preset.SMALL.spec, 1, GgmlType.F32);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.getString("tokenizer.ggml.model")).isEqualTo("gpt2");
      assertThat(f.getString("tokenizer.ggml.pre")).isEqualTo("llama-bpe");
      String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
      int[] types = f.getIntArray("tokenizer.ggml.token_type");
      String[] merges = f.getStringArray("tokenizer.ggml.merges");
      assertThat(tokens).hasSize(2048).doesNotHaveDuplicates();
      assertThat(types).hasSize(2048);
      int bos = f.getInt("tokenizer.ggml.bos_token_id");
      int eos = f.getInt("tokenizer.ggml.eos_token_id");
      assertThat(tokens[bos]).isEqualTo("<|begin_of_text|>");
      assertThat(tokens[eos]).isEqualTo("<|eot_id|>");
      assertThat(tokens[bos + 1]).isEqualTo("<|end_of_text|>");
      assertThat(tokens[bos + 6]).isEqualTo("<|start_header_id|>");
      assertThat(types[bos]).isEqualTo(3);
      assertThat(types[0]).isEqualTo(1);
      assertThat(tokens[' ']).isEqualTo("Ġ");
      assertThat(tokens['\n']).isEqualTo("Ċ");
      assertThat(tokens['A']).isEqualTo("A");
      // every merge joins two earlier tokens into the next token id
      Map<String, Integer> ids = new HashMap<>();
      for (int i = 0; i < tokens.length; i++) {
        ids.put(tokens[i], i);
      }
      assertThat(merges).hasSize(bos - 256);
      for (int m = 0; m < merges.length; m++) {
        String[] parts = merges[m].split(" ");
        assertThat(parts).hasSize(2);
        assertThat(ids.get(parts[0])).isLessThan(256 + m);
        assertThat(ids.get(parts[1])).isLessThan(256 + m);
        assertThat(tokens[256 + m]).isEqualTo(parts[0] + parts[1]);
      }
      assertThat(f.getString("tokenizer.chat_template")).contains("<|start_header_id|>");
    }
  }

  @Test
  void oneBillionPresetHasLlama32Shape() {
    // Metadata only: the writer generates tensors lazily, so nothing big is produced here.
    RandomModel.Spec s = RandomModel.Preset.ONE_B.spec;
    GgufWriter w = RandomModel.writer(s, 1, s.defaultType());
    assertThat(w.tensorCount()).isEqualTo(1 + 1 + 16 * 9 + 1); // rope_freqs, embd, layers, norm
    assertThat(w.fileSize()).isBetween(1_250_000_000L, 1_400_000_000L);
    assertThat(s.dim()).isEqualTo(2048);
    assertThat(s.layers()).isEqualTo(16);
    assertThat(s.heads()).isEqualTo(32);
    assertThat(s.kvHeads()).isEqualTo(8);
    assertThat(s.ffnDim()).isEqualTo(8192);
    assertThat(s.vocabSize()).isEqualTo(128256);
    assertThat(s.defaultType()).isEqualTo(GgmlType.Q8_0);
  }

  @Test
  void parsesPresetAndTypeNames() {
    assertThat(RandomModel.Preset.parse("1b")).isEqualTo(RandomModel.Preset.ONE_B);
    assertThat(RandomModel.Preset.parse("tiny")).isEqualTo(RandomModel.Preset.TINY);
    assertThat(RandomModel.parseType("q4_k")).isEqualTo(GgmlType.Q4_K);
    assertThatThrownBy(() -> RandomModel.Preset.parse("huge")).hasMessageContaining("huge");
    assertThatThrownBy(() -> RandomModel.parseType("q5_1")).hasMessageContaining("q5_1");
  }
}
