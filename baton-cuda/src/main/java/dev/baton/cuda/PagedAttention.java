package dev.baton.cuda;

import dev.baton.model.LlamaConfig;

/**
 * Attention over the paged KV cache for the tokens of a step that do not attend on the GEMM path
 * ({@link PrefillAttention}). Decode-sized steps (at most {@link
 * CudaKernels#ATTENTION_SPLIT_MAX_TOKENS} tokens) use {@code attention_split} + {@code
 * attention_combine}: each token's context cut into up to {@link CudaKernels#ATTENTION_SPLITS}
 * slices, so a single sequence keeps many SMs busy (flash-decoding); larger steps use {@code
 * attention}, one block per (token, KV head). Measured in docs/PERFORMANCE.md (GPU backend).
 */
final class PagedAttention implements AutoCloseable {

  private final CudaDriver driver;
  private final CudaKernels kernels;
  private final LlamaConfig cfg;
  private final long parts; // attention_split's per-slice results for the largest split step
  private boolean split = true;

  /**
   * Fewest positions per slice of {@code attention_split}: each of a block's 4 warps walks its
   * slice one position per dependent load, so short slices (more blocks, shorter chains) suit the
   * short contexts of decode; 64 was the first choice (GpuBench measures both).
   */
  static final int MIN_SLICE = 16;

  static final int MIN_SLICE_BEFORE = 64;

  private int minSlice = MIN_SLICE;

  PagedAttention(CudaDriver driver, CudaKernels kernels, LlamaConfig cfg) {
    this.driver = driver;
    this.kernels = kernels;
    this.cfg = cfg;
    this.parts =
        driver.alloc(
            4L
                * CudaKernels.ATTENTION_SPLIT_MAX_TOKENS
                * cfg.heads()
                * CudaKernels.ATTENTION_SPLITS
                * (cfg.headDim() + 2));
  }

  /** Whether decode-sized steps use the split kernels (default) or the one-block kernel. */
  void useSplit(boolean on) {
    split = on;
  }

  boolean usesSplit() {
    return split;
  }

  void minSlice(int positions) {
    minSlice = positions;
  }

  int minSlice() {
    return minSlice;
  }

  /**
   * Enqueues layer {@code layer}'s attention for the step's {@code n} tokens; tokens whose {@code
   * seqLen} entry is 0 are skipped (their chunk attends on the GEMM path). Device addresses: {@code
   * qkv} (fp32 rows of {@code qkvStride}), the KV cache, {@code att} (the output rows) and the
   * step's per-token sequence lengths, table starts and block tables.
   */
  void run(
      int n,
      long qkv,
      int qkvStride,
      long kvCache,
      long att,
      long seqLen,
      long tableStart,
      long tables,
      int layer,
      int blockSize,
      float scale) {
    int hd = cfg.headDim();
    if (split
        && n <= CudaKernels.ATTENTION_SPLIT_MAX_TOKENS
        && hd <= CudaKernels.ATTENTION_SPLIT_MAX_HEAD_DIM) {
      kernels.launch(
          "attention_split",
          n,
          cfg.kvHeads() * CudaKernels.ATTENTION_SPLITS,
          128,
          0,
          qkv,
          qkvStride,
          kvCache,
          parts,
          seqLen,
          tableStart,
          tables,
          layer,
          cfg.layers(),
          cfg.heads(),
          cfg.kvHeads(),
          hd,
          blockSize,
          scale,
          minSlice);
      kernels.launch(
          "attention_combine",
          n,
          cfg.heads(),
          (hd + 31) / 32 * 32,
          0,
          parts,
          att,
          seqLen,
          cfg.heads(),
          cfg.kvHeads(),
          hd);
      return;
    }
    kernels.launch(
        "attention",
        n,
        cfg.kvHeads(),
        CudaKernels.ATTENTION_THREADS,
        CudaKernels.attentionSharedBytes(cfg.heads() / cfg.kvHeads(), hd),
        qkv,
        qkvStride,
        kvCache,
        att,
        seqLen,
        tableStart,
        tables,
        layer,
        cfg.layers(),
        cfg.heads(),
        cfg.kvHeads(),
        hd,
        blockSize,
        scale);
  }

  @Override
  public void close() {
    driver.free(parts);
  }
}
