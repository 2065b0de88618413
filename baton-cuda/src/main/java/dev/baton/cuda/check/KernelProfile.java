package dev.baton.cuda.check;

import dev.baton.cuda.CudaDevice;
import dev.baton.cuda.CudaRunner;
import dev.baton.cuda.Precision;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.engine.RunnerOptions;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import dev.baton.model.RandomModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A short, fixed run of the 1B model for a kernel profiler ({@code ncu}): a one-token prompt, then
 * {@code STEPS} single-stream decode steps launched kernel by kernel (no CUDA graph, so the
 * profiler sees each launch), then, with {@code prefill}, one 2048-token prefill. Kernel times come
 * from the profiler; this program only makes the work.
 *
 * <p>Usage: {@code KernelProfile WORK_DIR [decode|prefill]}
 */
public final class KernelProfile {

  private static final int STEPS = 4;

  private KernelProfile() {}

  public static void main(String[] args) throws IOException {
    Path work = Path.of(args.length > 0 ? args[0] : "gpu-check-work");
    boolean prefill = args.length > 1 && args[1].equals("prefill");
    Files.createDirectories(work);
    Path oneB = work.resolve("random-1b.gguf");
    if (!Files.exists(oneB)) {
      RandomModel.write(oneB, RandomModel.Preset.ONE_B, 1);
    }
    CudaDevice device = CudaDevice.open(0);
    try (GgufFile file = GgufFile.open(oneB)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      RunnerOptions options =
          RunnerOptions.defaults()
              .withContextLength(4096)
              .withKvBlocks(256)
              .withKvDtype(KvBlockPool.Dtype.F16);
      try (CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, Precision.DEFAULT)) {
        gpu.useGraphs(false);
        if (prefill) {
          int[] table = IntStream.range(0, 128).toArray();
          int[] tokens = GpuCorrectness.randomTokens(2048, cfg.vocabSize(), 9);
          gpu.forwardArgmax(List.of(new SeqChunk(table, 0, tokens, true)));
          return;
        }
        int[] table = IntStream.range(0, 8).toArray();
        int[] next = gpu.forwardArgmax(List.of(new SeqChunk(table, 0, new int[] {1}, true)));
        for (int i = 0; i < STEPS; i++) {
          next = gpu.forwardArgmax(List.of(new SeqChunk(table, 1 + i, next, true)));
        }
      }
    }
  }
}
