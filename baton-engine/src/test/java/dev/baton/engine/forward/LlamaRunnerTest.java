package dev.baton.engine.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.engine.Backend;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.engine.RunnerOptions;
import dev.baton.engine.sample.Sampler;
import dev.baton.engine.sample.SamplingParams;
import dev.baton.model.GgmlType;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import dev.baton.model.RandomModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The engine's forward pass against a float64 reference, and batching invariants. */
class LlamaRunnerTest {

  @TempDir static Path dir;
  static GgufFile tiny;

  @BeforeAll
  static void writeTiny() {
    Path p = dir.resolve("tiny.gguf");
    RandomModel.write(p, RandomModel.Preset.TINY, 7);
    tiny = GgufFile.open(p);
  }

  @AfterAll
  static void close() {
    tiny.close();
  }

  static ModelRunner runner(GgufFile f, KvBlockPool.Dtype dtype, int threads) {
    LlamaConfig c = LlamaConfig.fromGguf(f);
    return Backend.byName("cpu")
        .createRunner(
            c,
            LlamaWeights.of(f, c),
            RunnerOptions.defaults()
                .withThreads(threads)
                .withContextLength(512)
                .withKvBlocks(64)
                .withKvDtype(dtype));
  }

  static int[] blocks(int first, int count) {
    int[] t = new int[count];
    for (int i = 0; i < count; i++) {
      t[i] = first + i;
    }
    return t;
  }

  static int[] prompt(long seed, int len, int vocab) {
    Random r = new Random(seed);
    int[] t = new int[len];
    for (int i = 0; i < len; i++) {
      t[i] = r.nextInt(vocab);
    }
    return t;
  }

  static double relError(float[] got, double[] ref) {
    double maxDiff = 0;
    double maxRef = 0;
    for (int i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    return maxDiff / maxRef;
  }

  static void assertMatchesReference(GgufFile f) {
    LlamaConfig c = LlamaConfig.fromGguf(f);
    ReferenceModel ref = new ReferenceModel(f, c);
    int[] p = prompt(1, 19, c.vocabSize());
    double[] expect = null;
    for (int t : p) {
      expect = ref.step(t);
    }
    try (ModelRunner r = runner(f, KvBlockPool.Dtype.F32, 2)) {
      int[] table = blocks(3, 4);
      float[] got = r.forward(List.of(new SeqChunk(table, 0, p, true))).get(0);
      assertThat(relError(got, expect)).as("prefill logits vs float64 reference").isLessThan(1e-4);
      // Two decode steps on top of the prefilled cache.
      for (int step = 0; step < 2; step++) {
        int next = (p.length * 31 + step) % c.vocabSize();
        expect = ref.step(next);
        got =
            r.forward(List.of(new SeqChunk(table, p.length + step, new int[] {next}, true))).get(0);
        assertThat(relError(got, expect)).as("decode logits vs float64 reference").isLessThan(1e-4);
      }
    }
  }

  @Test
  void llamaF32MatchesFloat64Reference() {
    assertMatchesReference(tiny);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3-scaling-tied", "qwen2", "qwen3"})
  void otherArchitecturesMatchFloat64Reference(String variant) {
    RandomModel.Spec spec = RandomModel.Preset.TINY.spec;
    spec =
        switch (variant) {
          case "llama3-scaling-tied" -> spec.withLlama3RopeScaling(true).withTiedEmbeddings(true);
          default -> spec.withArchitecture(variant);
        };
    Path p = dir.resolve(variant + ".gguf");
    RandomModel.write(p, spec, 11, GgmlType.F32);
    try (GgufFile f = GgufFile.open(p)) {
      LlamaConfig c = LlamaConfig.fromGguf(f);
      switch (variant) {
        case "qwen2" -> assertThat(c.qkvBias()).isTrue();
        case "qwen3" -> assertThat(c.qkNorm()).isTrue();
        default -> assertThat(c.tiedEmbeddings()).isTrue();
      }
      assertMatchesReference(f);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"F32", "F16"})
  void batchedPrefillEqualsTokenByToken(String dtype) {
    KvBlockPool.Dtype dt = KvBlockPool.Dtype.valueOf(dtype);
    int[] p = prompt(5, 40, 384);
    float[] batched;
    float[] single = null;
    try (ModelRunner r = runner(tiny, dt, 2)) {
      // In two chunks, like chunked prefill: 25 then 15 tokens.
      r.forward(List.of(new SeqChunk(blocks(0, 3), 0, Arrays.copyOf(p, 25), false)));
      batched =
          r.forward(List.of(new SeqChunk(blocks(0, 3), 25, Arrays.copyOfRange(p, 25, 40), true)))
              .get(0);
    }
    try (ModelRunner r = runner(tiny, dt, 1)) {
      for (int i = 0; i < p.length; i++) {
        single = r.forward(List.of(new SeqChunk(blocks(10, 3), i, new int[] {p[i]}, true))).get(0);
      }
    }
    for (int i = 0; i < single.length; i++) {
      assertThat(batched[i]).isCloseTo(single[i], org.assertj.core.data.Offset.offset(2e-4f));
    }
  }

  @Test
  void greedyOutputOfABatchEqualsEachSequenceAlone() {
    int n = 3;
    int steps = 6;
    int[][] prompts = {prompt(1, 5, 384), prompt(2, 17, 384), prompt(3, 9, 384)};
    List<List<Integer>> alone = new ArrayList<>();
    try (ModelRunner r = runner(tiny, KvBlockPool.Dtype.F32, 2)) {
      for (int s = 0; s < n; s++) {
        alone.add(generate(r, List.of(prompts[s]), steps).get(0));
      }
      List<List<Integer>> together = generate(r, Arrays.asList(prompts), steps);
      assertThat(together).isEqualTo(alone);
    }
  }

  /** Greedy generation of all prompts together: one prefill step, then batched decode steps. */
  static List<List<Integer>> generate(ModelRunner r, List<int[]> prompts, int steps) {
    Sampler greedy = new Sampler(SamplingParams.greedy());
    List<SeqChunk> prefill = new ArrayList<>();
    for (int s = 0; s < prompts.size(); s++) {
      prefill.add(new SeqChunk(blocks(s * 4, 4), 0, prompts.get(s), true));
    }
    List<float[]> logits = r.forward(prefill);
    List<List<Integer>> out = new ArrayList<>();
    for (int s = 0; s < prompts.size(); s++) {
      out.add(new ArrayList<>(List.of(greedy.sample(logits.get(s)))));
    }
    for (int step = 1; step < steps; step++) {
      List<SeqChunk> decode = new ArrayList<>();
      for (int s = 0; s < prompts.size(); s++) {
        int last = out.get(s).get(out.get(s).size() - 1);
        decode.add(
            new SeqChunk(
                blocks(s * 4, 4), prompts.get(s).length + step - 1, new int[] {last}, true));
      }
      logits = r.forward(decode);
      for (int s = 0; s < prompts.size(); s++) {
        out.get(s).add(greedy.sample(logits.get(s)));
      }
    }
    return out;
  }

  @Test
  void badChunksAreClearErrors() {
    try (ModelRunner r = runner(tiny, KvBlockPool.Dtype.F32, 1)) {
      assertThatThrownBy(
              () -> r.forward(List.of(new SeqChunk(blocks(0, 1), 0, new int[] {384}, true))))
          .hasMessageContaining("token id 384 is outside the vocabulary");
      assertThatThrownBy(() -> r.forward(List.of(new SeqChunk(blocks(0, 1), 0, new int[17], true))))
          .hasMessageContaining("cannot hold 17 positions");
      assertThatThrownBy(
              () -> r.forward(List.of(new SeqChunk(blocks(0, 64), 510, new int[3], true))))
          .hasMessageContaining("outside the context of 512");
      assertThatThrownBy(
              () -> r.forward(List.of(new SeqChunk(new int[] {64}, 0, new int[1], true))))
          .hasMessageContaining("block id 64 is not in the pool");
      // Still serves after bad input.
      assertThat(r.forward(List.of(new SeqChunk(blocks(0, 1), 0, new int[] {1}, true))).get(0))
          .hasSize(384);
    }
  }

  @Test
  void chunksWithoutLogitsReturnNull() {
    try (ModelRunner r = runner(tiny, KvBlockPool.Dtype.F32, 2)) {
      List<float[]> out =
          r.forward(
              List.of(
                  new SeqChunk(blocks(0, 1), 0, new int[] {1, 2}, false),
                  new SeqChunk(blocks(1, 1), 0, new int[] {3}, true)));
      assertThat(out.get(0)).isNull();
      assertThat(out.get(1)).hasSize(384);
      assertThat(r.vocabSize()).isEqualTo(384);
      assertThat(r.contextLength()).isEqualTo(512);
    }
  }
}
