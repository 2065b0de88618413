package dev.baton.cuda.check;

import dev.baton.cuda.CudaDevice;
import dev.baton.cuda.CudaRunner;
import dev.baton.cuda.Precision;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.engine.RunnerOptions;
import dev.baton.engine.cpu.CpuBackend;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The CUDA backend checked against the CPU backend on the same GGUF file: teacher-forced top-1
 * agreement and the largest logit difference over many positions, greedy tokens, and the KV cache's
 * bytes (same layout on both). Used by {@link GpuCheck} and the GPU-tagged tests.
 */
public final class GpuCorrectness {

  private GpuCorrectness() {}

  /**
   * @param positions how many positions were compared
   * @param top1Agreement share of positions whose argmax is the same
   * @param maxAbsLogitDiff largest |cpu - gpu| over every logit of every position
   * @param maxAbsLogit largest |cpu logit| (for scale)
   * @param maxAbsKvDiff largest |cpu - gpu| over the first blocks of the KV cache
   */
  public record TeacherForced(
      int positions,
      double top1Agreement,
      double maxAbsLogitDiff,
      double maxAbsLogit,
      double maxAbsKvDiff) {}

  /**
   * Feeds the same {@code positions} random tokens to both backends as one-token chunks of one
   * sequence (every position's logits come back) and compares.
   */
  public static TeacherForced teacherForced(
      CudaDevice device,
      Path model,
      int positions,
      Precision precision,
      KvBlockPool.Dtype kvDtype) {
    try (GgufFile file = GgufFile.open(model)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      int blockSize = 16;
      int blocks = (positions + blockSize - 1) / blockSize;
      RunnerOptions options =
          RunnerOptions.defaults()
              .withContextLength(positions)
              .withKvBlocks(blocks)
              .withKvDtype(kvDtype);
      int[] table = IntStream.range(0, blocks).toArray();
      int[] tokens = randomTokens(positions, cfg.vocabSize(), 42);
      try (ModelRunner cpu = new CpuBackend().createRunner(cfg, weights, options);
          CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, precision)) {
        int agree = 0;
        double maxDiff = 0;
        double maxLogit = 0;
        int step = 256;
        for (int from = 0; from < positions; from += step) {
          List<SeqChunk> batch = new ArrayList<>();
          for (int p = from; p < Math.min(positions, from + step); p++) {
            batch.add(new SeqChunk(table, p, new int[] {tokens[p]}, true));
          }
          List<float[]> a = cpu.forward(batch);
          List<float[]> b = gpu.forward(batch);
          for (int i = 0; i < a.size(); i++) {
            if (argmax(a.get(i)) == argmax(b.get(i))) {
              agree++;
            }
            for (int v = 0; v < a.get(i).length; v++) {
              maxDiff = Math.max(maxDiff, Math.abs(a.get(i)[v] - b.get(i)[v]));
              maxLogit = Math.max(maxLogit, Math.abs(a.get(i)[v]));
            }
          }
        }
        double kvDiff = 0;
        for (int blk = 0; blk < Math.min(blocks, 4); blk++) {
          gpu.downloadBlock(blk);
          kvDiff = Math.max(kvDiff, maxDiff(cpu.kvPool(), gpu.kvPool(), blk));
        }
        return new TeacherForced(positions, agree / (double) positions, maxDiff, maxLogit, kvDiff);
      }
    }
  }

  /**
   * Chunked prefill (chunks of 400 and 624 tokens: the GEMM attention path) then 64 teacher-forced
   * decode positions, whose logits depend on the K/V that the prefill's attention produced; the
   * comparison covers the two prefill rows and the 64 decode rows.
   */
  public static TeacherForced prefillThenDecode(
      CudaDevice device, Path model, Precision precision) {
    try (GgufFile file = GgufFile.open(model)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      int positions = 1024 + 64;
      int blocks = (positions + 15) / 16;
      RunnerOptions options =
          RunnerOptions.defaults().withContextLength(positions).withKvBlocks(blocks);
      int[] table = IntStream.range(0, blocks).toArray();
      int[] tokens = randomTokens(positions, cfg.vocabSize(), 11);
      List<List<SeqChunk>> steps = new ArrayList<>();
      steps.add(List.of(new SeqChunk(table, 0, Arrays.copyOfRange(tokens, 0, 400), true)));
      steps.add(List.of(new SeqChunk(table, 400, Arrays.copyOfRange(tokens, 400, 1024), true)));
      List<SeqChunk> decode = new ArrayList<>();
      for (int p = 1024; p < positions; p++) {
        decode.add(new SeqChunk(table, p, new int[] {tokens[p]}, true));
      }
      steps.add(decode);
      try (ModelRunner cpu = new CpuBackend().createRunner(cfg, weights, options);
          CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, precision)) {
        int agree = 0;
        int rows = 0;
        double maxDiff = 0;
        double maxLogit = 0;
        for (List<SeqChunk> step : steps) {
          List<float[]> a = cpu.forward(step);
          List<float[]> b = gpu.forward(step);
          for (int i = 0; i < a.size(); i++, rows++) {
            if (argmax(a.get(i)) == argmax(b.get(i))) {
              agree++;
            }
            for (int v = 0; v < a.get(i).length; v++) {
              maxDiff = Math.max(maxDiff, Math.abs(a.get(i)[v] - b.get(i)[v]));
              maxLogit = Math.max(maxLogit, Math.abs(a.get(i)[v]));
            }
          }
        }
        return new TeacherForced(rows, agree / (double) rows, maxDiff, maxLogit, 0);
      }
    }
  }

  /**
   * Greedy decoding of {@code newTokens} after a random prompt on both backends; returns {@code
   * [cpu tokens, gpu tokens]}.
   */
  public static int[][] greedy(
      CudaDevice device, Path model, int promptLength, int newTokens, Precision precision) {
    try (GgufFile file = GgufFile.open(model)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      int total = promptLength + newTokens;
      int blocks = (total + 15) / 16;
      RunnerOptions options =
          RunnerOptions.defaults().withContextLength(total).withKvBlocks(blocks);
      int[] prompt = randomTokens(promptLength, cfg.vocabSize(), 7);
      try (ModelRunner cpu = new CpuBackend().createRunner(cfg, weights, options);
          CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, precision)) {
        return new int[][] {
          decode(cpu, prompt, newTokens, blocks), decode(gpu, prompt, newTokens, blocks)
        };
      }
    }
  }

  private static int[] decode(ModelRunner runner, int[] prompt, int newTokens, int blocks) {
    int[] table = IntStream.range(0, blocks).toArray();
    int[] out = new int[newTokens];
    int next = argmax(runner.forward(List.of(new SeqChunk(table, 0, prompt, true))).get(0));
    for (int i = 0; i < newTokens; i++) {
      out[i] = next;
      if (i + 1 < newTokens) {
        SeqChunk c = new SeqChunk(table, prompt.length + i, new int[] {next}, true);
        next = argmax(runner.forward(List.of(c)).get(0));
      }
    }
    return out;
  }

  private static double maxDiff(KvBlockPool a, KvBlockPool b, int block) {
    MemorySegment x = a.block(block);
    MemorySegment y = b.block(block);
    double max = 0;
    if (a.dtype() == KvBlockPool.Dtype.F32) {
      for (long i = 0; i < x.byteSize(); i += 4) {
        max =
            Math.max(
                max, Math.abs(x.get(ValueLayout.JAVA_FLOAT, i) - y.get(ValueLayout.JAVA_FLOAT, i)));
      }
    } else {
      for (long i = 0; i < x.byteSize(); i += 2) {
        max =
            Math.max(
                max,
                Math.abs(
                    Float.float16ToFloat(x.get(ValueLayout.JAVA_SHORT, i))
                        - Float.float16ToFloat(y.get(ValueLayout.JAVA_SHORT, i))));
      }
    }
    return max;
  }

  /**
   * The GPU's logits at every position of {@code tokens} (one sequence, teacher-forced as {@link
   * #teacherForced} feeds it), for comparisons outside Java (HF transformers,
   * docs/gpu/hf_compare.py).
   */
  public static float[][] gpuLogits(
      CudaDevice device, Path model, int[] tokens, Precision precision) {
    try (GgufFile file = GgufFile.open(model)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      int blocks = (tokens.length + 15) / 16;
      RunnerOptions options =
          RunnerOptions.defaults().withContextLength(tokens.length).withKvBlocks(blocks);
      int[] table = IntStream.range(0, blocks).toArray();
      float[][] out = new float[tokens.length][];
      try (CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, precision)) {
        int step = 256;
        for (int from = 0; from < tokens.length; from += step) {
          List<SeqChunk> batch = new ArrayList<>();
          for (int p = from; p < Math.min(tokens.length, from + step); p++) {
            batch.add(new SeqChunk(table, p, new int[] {tokens[p]}, true));
          }
          List<float[]> rows = gpu.forward(batch);
          for (int i = 0; i < rows.size(); i++) {
            out[from + i] = rows.get(i);
          }
        }
      }
      return out;
    }
  }

  static int[] randomTokens(int n, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[n];
    Arrays.setAll(t, i -> r.nextInt(vocab));
    return t;
  }

  static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }
}
