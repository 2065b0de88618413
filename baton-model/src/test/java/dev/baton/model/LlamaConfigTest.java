package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaConfigTest {
  @TempDir Path dir;

  private Path write(RandomModel.Spec spec, GgmlType type) {
    Path p = dir.resolve(spec.architecture() + "-" + type + ".gguf");
    RandomModel.write(p, spec, 1, type);
    return p;
  }

  @Test
  void tinyPresetConfig() {
    try (GgufFile f = GgufFile.open(write(RandomModel.Preset.TINY.spec, GgmlType.F32))) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThat(c.architecture()).isEqualTo("llama");
      assertThat(c.dim()).isEqualTo(64);
      assertThat(c.layers()).isEqualTo(2);
      assertThat(c.heads()).isEqualTo(4);
      assertThat(c.kvHeads()).isEqualTo(2);
      assertThat(c.headDim()).isEqualTo(16);
      assertThat(c.ffnDim()).isEqualTo(192);
      assertThat(c.vocabSize()).isEqualTo(384);
      assertThat(c.contextLength()).isEqualTo(4096);
      assertThat(c.rmsEps()).isEqualTo(1e-5f);
      assertThat(c.ropeTheta()).isEqualTo(10000f);
      assertThat(c.ropeStyle()).isEqualTo(LlamaConfig.RopeStyle.NORMAL);
      assertThat(c.ropeFreqFactors()).containsOnly(1f);
      assertThat(c.tiedEmbeddings()).isFalse();
      assertThat(c.qkvBias()).isFalse();
      assertThat(c.qkNorm()).isFalse();
      assertThat(c.ropeInvFreq(1)).isCloseTo(Math.pow(10000, -2.0 / 16), within(1e-12));

      LlamaWeights w = LlamaWeights.of(f, c);
      assertThat(w.layers()).hasSize(2);
      assertThat(w.output().name()).isEqualTo("output.weight");
      assertThat(w.layers().get(1).wk().shape()).containsExactly(64, 32);
      assertThat(w.layers().get(0).ffnDown().shape()).containsExactly(192, 64);
      assertThat(w.layers().get(0).bq()).isNull();
    }
  }

  @Test
  void qwen2HasBiasAndNeoxRope() {
    RandomModel.Spec spec =
        RandomModel.Preset.TINY.spec.withArchitecture("qwen2").withTiedEmbeddings(true);
    try (GgufFile f = GgufFile.open(write(spec, GgmlType.F32))) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThat(c.ropeStyle()).isEqualTo(LlamaConfig.RopeStyle.NEOX);
      assertThat(c.qkvBias()).isTrue();
      assertThat(c.qkNorm()).isFalse();
      assertThat(c.tiedEmbeddings()).isTrue();
      LlamaWeights w = LlamaWeights.of(f, c);
      assertThat(w.output()).isSameAs(w.tokenEmbedding());
      assertThat(w.layers().get(0).bk().shape()).containsExactly(32);
    }
  }

  @Test
  void qwen3HasQkNorm() {
    RandomModel.Spec spec = RandomModel.Preset.TINY.spec.withArchitecture("qwen3");
    try (GgufFile f = GgufFile.open(write(spec, GgmlType.F32))) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThat(c.ropeStyle()).isEqualTo(LlamaConfig.RopeStyle.NEOX);
      assertThat(c.qkNorm()).isTrue();
      assertThat(LlamaWeights.of(f, c).layers().get(1).kNorm().shape()).containsExactly(16);
    }
  }

  @Test
  void ropeFreqsTensorGivesLlama3Factors() {
    RandomModel.Spec spec = RandomModel.Preset.TINY.spec.withLlama3RopeScaling(true);
    try (GgufFile f = GgufFile.open(write(spec, GgmlType.F32))) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      float[] factors = c.ropeFreqFactors();
      assertThat(factors[0]).isEqualTo(1f); // highest frequency untouched
      assertThat(factors[factors.length - 1]).isEqualTo(32f); // lowest divided by the factor
      assertThat(c.ropeInvFreq(7)).isCloseTo(Math.pow(10000, -14.0 / 16) / 32, within(1e-9));
    }
  }

  @Test
  void llama3FactorsMatchTheReferenceFormula() {
    // Llama 3.1 8B: theta 500000, factor 8, low 1, high 4, original 8192, head dim 128.
    float[] f = LlamaConfig.llama3FreqFactors(128, 500000f, 8f, 1f, 4f, 8192);
    assertThat(f).hasSize(64);
    assertThat(f[0]).isEqualTo(1f);
    assertThat(f[63]).isEqualTo(8f);
    for (int i = 1; i < 64; i++) {
      assertThat(f[i]).isGreaterThanOrEqualTo(f[i - 1]);
    }
    // a pair in the smooth band: wavelen between 2048 and 8192
    int i = 0;
    while (2 * Math.PI / Math.pow(500000, -2.0 * i / 128) < 2048) {
      i++;
    }
    double wavelen = 2 * Math.PI / Math.pow(500000, -2.0 * i / 128);
    double smooth = (8192 / wavelen - 1) / 3;
    assertThat((double) f[i]).isCloseTo(1 / ((1 - smooth) / 8 + smooth), within(1e-5));
  }

  @Test
  void unsupportedArchitectureIsNamed() {
    RandomModel.Spec spec = RandomModel.Preset.TINY.spec.withArchitecture("gemma2");
    Path p = write(spec, GgmlType.F32);
    try (GgufFile f = GgufFile.open(p)) {
      assertThatThrownBy(() -> LlamaConfig.fromGguf(f))
          .isInstanceOf(ModelFormatException.class)
          .hasMessageContaining("unsupported architecture 'gemma2'");
    }
  }

  /** A copy of the tiny model with extra (or replaced) metadata. */
  private Path tinyWith(String name, Map<String, Object[]> extra) {
    Path src = write(RandomModel.Preset.TINY.spec, GgmlType.F32);
    Path dst = dir.resolve(name);
    try (GgufFile f = GgufFile.open(src)) {
      GgufWriter w = new GgufWriter().putAll(f);
      extra.forEach((k, v) -> w.put(k, (GgufValueType) v[0], v[1]));
      for (GgufTensor t : f.tensors().values()) {
        w.addTensor(t.name(), t.type(), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE));
      }
      w.write(dst);
    }
    return dst;
  }

  @Test
  void ropeScalingFromMetadata() {
    Path llama3 =
        tinyWith(
            "l3.gguf",
            Map.of(
                "llama.rope.scaling.type",
                new Object[] {GgufValueType.STRING, "llama3"},
                "llama.rope.scaling.factor",
                new Object[] {GgufValueType.FLOAT32, 8f},
                "llama.rope.scaling.original_context_length",
                new Object[] {GgufValueType.UINT32, 8192}));
    try (GgufFile f = GgufFile.open(llama3)) {
      assertThat(LlamaConfig.fromGguf(f).ropeFreqFactors())
          .containsExactly(LlamaConfig.llama3FreqFactors(16, 10000f, 8f, 1f, 4f, 8192));
    }
    Path linear =
        tinyWith(
            "lin.gguf",
            Map.of(
                "llama.rope.scaling.type", new Object[] {GgufValueType.STRING, "linear"},
                "llama.rope.scaling.factor", new Object[] {GgufValueType.FLOAT32, 4f}));
    try (GgufFile f = GgufFile.open(linear)) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThat(c.ropeFreqFactors()).containsOnly(4f);
      assertThat(c).isEqualTo(LlamaConfig.fromGguf(f)).hasSameHashCodeAs(LlamaConfig.fromGguf(f));
      assertThat(c.toString()).contains("dim=64").contains("rope=NORMAL");
    }
    Path yarn =
        tinyWith(
            "yarn.gguf",
            Map.of("llama.rope.scaling.type", new Object[] {GgufValueType.STRING, "yarn"}));
    try (GgufFile f = GgufFile.open(yarn)) {
      assertThatThrownBy(() -> LlamaConfig.fromGguf(f))
          .hasMessageContaining("unsupported rope scaling type 'yarn'");
    }
  }

  @Test
  void badDimensionsAreClearErrors() {
    Path odd =
        tinyWith(
            "odd.gguf",
            Map.of("llama.attention.head_count_kv", new Object[] {GgufValueType.UINT32, 3}));
    try (GgufFile f = GgufFile.open(odd)) {
      assertThatThrownBy(() -> LlamaConfig.fromGguf(f))
          .isInstanceOf(ModelFormatException.class)
          .hasMessageContaining("not a multiple of KV head count 3");
    }
    Path wide =
        tinyWith(
            "wide.gguf",
            Map.of("llama.embedding_length", new Object[] {GgufValueType.UINT32, 128}));
    try (GgufFile f = GgufFile.open(wide)) {
      assertThatThrownBy(() -> LlamaConfig.fromGguf(f))
          .hasMessageContaining("token_embd.weight has shape [64, 384], expected [128, 384]");
    }
    Path none = dir.resolve("none.gguf");
    new GgufWriter().putUInt32("x", 1).write(none);
    try (GgufFile f = GgufFile.open(none)) {
      assertThatThrownBy(() -> LlamaConfig.fromGguf(f))
          .hasMessageContaining("missing general.architecture");
    }
  }

  @Test
  void missingTensorIsNamed() {
    Path src = write(RandomModel.Preset.TINY.spec, GgmlType.F32);
    Path dst = dir.resolve("broken.gguf");
    try (GgufFile f = GgufFile.open(src)) {
      GgufWriter w = new GgufWriter().putAll(f);
      for (GgufTensor t : f.tensors().values()) {
        if (!t.name().equals("blk.1.ffn_up.weight")) {
          byte[] bytes = t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
          w.addTensor(t.name(), t.type(), t.shape(), bytes);
        }
      }
      w.write(dst);
    }
    try (GgufFile f = GgufFile.open(dst)) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      assertThatThrownBy(() -> LlamaWeights.of(f, c))
          .isInstanceOf(ModelFormatException.class)
          .hasMessageContaining("missing tensor blk.1.ffn_up.weight");
    }
  }
}
