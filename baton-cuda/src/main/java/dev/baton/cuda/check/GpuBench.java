package dev.baton.cuda.check;

import dev.baton.cuda.CudaDevice;
import dev.baton.cuda.CudaDriver;
import dev.baton.cuda.CudaRunner;
import dev.baton.cuda.Precision;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.engine.RunnerOptions;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Speed of the CUDA runner on one model: single-stream and batch-32 decode (argmax on the GPU, as
 * the scheduler asks for greedy requests; and logits to the host, as for sampled ones), and a
 * 2048-token prefill. Every step waits for the GPU (its result is copied back), so wall time is GPU
 * time plus the host's share.
 */
public final class GpuBench {

  private GpuBench() {}

  /** Runs the benchmarks; returns name to value (tok/s or ms), in order. */
  public static Map<String, Double> run(CudaDevice device, Path model) {
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("device_copy_64MiB_GB_s", copyBandwidth(device, 64L << 20));
    try (GgufFile file = GgufFile.open(model)) {
      LlamaConfig cfg = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, cfg);
      int blockSize = 16;
      int prompt = 128;
      int decodeSteps = 256;
      int batch = 32;
      int perSeq = (prompt + decodeSteps + blockSize - 1) / blockSize;
      int prefillBlocks = (2048 + 32) / blockSize; // the prompt and a 32-token continuation
      RunnerOptions options =
          RunnerOptions.defaults()
              .withContextLength(4096)
              .withKvBlocks(batch * perSeq + prefillBlocks)
              .withKvDtype(KvBlockPool.Dtype.F16);
      long t0 = System.nanoTime();
      try (CudaRunner gpu = CudaRunner.create(device, cfg, weights, options, Precision.DEFAULT)) {
        out.put("load_s", (System.nanoTime() - t0) / 1e9);
        int[][] tables = new int[batch][];
        for (int s = 0; s < batch; s++) {
          int base = s * perSeq;
          tables[s] = IntStream.range(base, base + perSeq).toArray();
        }
        int[][] prompts = new int[batch][];
        for (int s = 0; s < batch; s++) {
          prompts[s] = GpuCorrectness.randomTokens(prompt, cfg.vocabSize(), 100 + s);
        }
        // Warm-up: every kernel and GEMM shape once.
        decode(gpu, tables, prompts, 1, 8, false);
        decode(gpu, tables, prompts, batch, 8, false);
        decode(gpu, tables, prompts, 1, 8, true);
        decode(gpu, tables, prompts, batch, 8, true);
        gpu.useGraphs(false);
        out.put(
            "decode_1_argmax_no_graph_tok_s", decode(gpu, tables, prompts, 1, decodeSteps, true));
        out.put(
            "decode_32_argmax_no_graph_tok_s",
            decode(gpu, tables, prompts, batch, decodeSteps, true));
        gpu.useGraphs(true);
        gpu.useGemv(true);
        out.put(
            "decode_1_argmax_gemv_kernel_tok_s",
            decode(gpu, tables, prompts, 1, decodeSteps, true));
        gpu.useGemv(false);
        gpu.useSplitAttention(false);
        out.put(
            "decode_1_argmax_unsplit_attention_tok_s",
            decode(gpu, tables, prompts, 1, decodeSteps, true));
        gpu.useSplitAttention(true);
        // This session's two decode changes, each off in turn, alternating with the default.
        double[][] pairs = new double[3][3];
        for (int r = 0; r < 3; r++) {
          pairs[0][r] = decode(gpu, tables, prompts, 1, decodeSteps, true);
          gpu.useRegisterNorm(false);
          pairs[1][r] = decode(gpu, tables, prompts, 1, decodeSteps, true);
          gpu.useRegisterNorm(true);
          gpu.useShortAttentionSlices(false);
          pairs[2][r] = decode(gpu, tables, prompts, 1, decodeSteps, true);
          gpu.useShortAttentionSlices(true);
        }
        out.put("decode_1_argmax_median3_tok_s", median(pairs[0]));
        out.put("decode_1_argmax_looping_rmsnorm_median3_tok_s", median(pairs[1]));
        out.put("decode_1_argmax_64_position_slices_median3_tok_s", median(pairs[2]));
        out.put("decode_1_tok_s", decode(gpu, tables, prompts, 1, decodeSteps, false));
        out.put("decode_1_argmax_tok_s", decode(gpu, tables, prompts, 1, decodeSteps, true));
        out.put("decode_32_tok_s", decode(gpu, tables, prompts, batch, decodeSteps, false));
        out.put("decode_32_argmax_tok_s", decode(gpu, tables, prompts, batch, decodeSteps, true));
        int[] prefillTable =
            IntStream.range(batch * perSeq, batch * perSeq + prefillBlocks).toArray();
        int[] long2048 = GpuCorrectness.randomTokens(2048, cfg.vocabSize(), 9);
        // The flash kernel and the GEMM attention path side by side (alternating rounds), then
        // whether they give the same greedy continuation (the later layers' K/V depend on it).
        double[][] ms = new double[2][7];
        for (int r = 0; r < ms[0].length + 2; r++) {
          for (int flash = 0; flash < 2; flash++) {
            gpu.useFlashAttention(flash == 1);
            long s = System.nanoTime();
            gpu.forward(List.of(new SeqChunk(prefillTable, 0, long2048, true)));
            if (r >= 2) {
              ms[flash][r - 2] = (System.nanoTime() - s) / 1e6;
            }
          }
        }
        for (double[] m : ms) {
          Arrays.sort(m);
        }
        out.put("prefill_2048_gemm_attention_ms", ms[0][ms[0].length / 2]);
        out.put("prefill_2048_ms", ms[1][ms[1].length / 2]);
        int[][] continuation = new int[2][];
        for (int flash = 0; flash < 2; flash++) {
          gpu.useFlashAttention(flash == 1);
          continuation[flash] = greedyAfter(gpu, prefillTable, long2048, 32);
        }
        int same = 0;
        while (same < 32 && continuation[0][same] == continuation[1][same]) {
          same++;
        }
        out.put("prefill_2048_flash_vs_gemm_same_greedy_tokens_of_32", (double) same);
        // Where the time goes (each kernel waited for: slower than the timed runs above).
        Map<String, Long> p = new LinkedHashMap<>();
        gpu.profile(p);
        gpu.forward(List.of(new SeqChunk(prefillTable, 0, long2048, true)));
        gpu.profile(null);
        printProfile("prefill 2048", p, 1);
        for (int seqs : new int[] {1, batch}) {
          p.clear();
          gpu.profile(p);
          decode(gpu, tables, prompts, seqs, 16, false);
          gpu.profile(null);
          printProfile("decode batch " + seqs + " (incl. its prefill)", p, 17);
        }
      }
    }
    return out;
  }

  private static void printProfile(String what, Map<String, Long> p, int steps) {
    long total = p.values().stream().mapToLong(Long::longValue).sum();
    StringBuilder line =
        new StringBuilder(
            "profile "
                + what
                + String.format(
                    java.util.Locale.ROOT, ", ms per step: total %.3f", total / 1e6 / steps));
    p.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(
            e ->
                line.append(
                    String.format(
                        java.util.Locale.ROOT,
                        "; %s %.3f",
                        e.getKey(),
                        e.getValue() / 1e6 / steps)));
    System.out.println(line);
  }

  /**
   * Device-to-device copy rate within one GPU (cuMemcpyDtoDAsync, median of 9): the baseline for KV
   * pulls between processes on one GPU by CUDA IPC (bin/gpu-check's P/D pull bandwidth row).
   */
  private static double copyBandwidth(CudaDevice device, long bytes) {
    CudaDriver d = device.driver();
    device.makeCurrent();
    long src = d.alloc(bytes);
    long dst = d.alloc(bytes);
    java.lang.foreign.MemorySegment stream = d.createStream();
    try {
      double[] gbs = new double[9];
      for (int r = -2; r < gbs.length; r++) {
        long t = System.nanoTime();
        d.copyDeviceToDeviceAsync(dst, src, bytes, stream);
        d.synchronize(stream);
        if (r >= 0) {
          gbs[r] = bytes / ((System.nanoTime() - t) / 1e9) / 1e9;
        }
      }
      return median(gbs);
    } finally {
      d.free(src);
      d.free(dst);
    }
  }

  private static double median(double[] v) {
    double[] c = v.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }

  /** Greedy tokens after prefilling {@code prompt} in one chunk. */
  private static int[] greedyAfter(CudaRunner gpu, int[] table, int[] prompt, int n) {
    int[] out = new int[n];
    out[0] = gpu.forwardArgmax(List.of(new SeqChunk(table, 0, prompt, true)))[0];
    for (int i = 1; i < n; i++) {
      SeqChunk c = new SeqChunk(table, prompt.length + i - 1, new int[] {out[i - 1]}, true);
      out[i] = gpu.forwardArgmax(List.of(c))[0];
    }
    return out;
  }

  /** Prefills {@code seqs} prompts, then times {@code steps} decode steps; total tokens/s. */
  private static double decode(
      CudaRunner gpu, int[][] tables, int[][] prompts, int seqs, int steps, boolean greedy) {
    List<SeqChunk> prefill = new ArrayList<>();
    for (int s = 0; s < seqs; s++) {
      prefill.add(new SeqChunk(tables[s], 0, prompts[s], true));
    }
    int[] next = gpu.forwardArgmax(prefill);
    int promptLength = prompts[0].length;
    long start = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      List<SeqChunk> step = new ArrayList<>(seqs);
      for (int s = 0; s < seqs; s++) {
        step.add(new SeqChunk(tables[s], promptLength + i, new int[] {next[s]}, true));
      }
      if (greedy) {
        next = gpu.forwardArgmax(step);
      } else {
        List<float[]> logits = gpu.forward(step);
        for (int s = 0; s < seqs; s++) {
          next[s] = GpuCorrectness.argmax(logits.get(s));
        }
      }
    }
    return (double) seqs * steps / ((System.nanoTime() - start) / 1e9);
  }
}
