package dev.baton.cuda;

import dev.baton.model.LlamaConfig;

/**
 * Attention for a long prefill chunk on the tensor cores: the sequence's K and V are gathered from
 * its KV blocks into contiguous matrices, then per KV head {@code S = Q K^T} (one strided-batched
 * cuBLAS GEMM over the KV heads, the group's query heads stacked as rows), a causal softmax, and
 * {@code O = P V} (a second GEMM), tile of {@link #QUERY_TILE} queries by tile, each tile's scores
 * ending at its last query's position. The scores live in GPU memory, so it is used only for chunks
 * of at least {@link #MIN_TOKENS} tokens whose scores fit in {@link #MAX_SCORE_BYTES}; the paged
 * kernel takes the rest.
 *
 * <p>With f16 activations on sm_80 and later and a head dim of 32, 64 or 128, the two GEMMs and the
 * softmax are replaced by one flash-attention kernel ({@code flash_prefill.cu}: the scores stay in
 * registers, no score memory, no context bound). Measurements: docs/GPU.md and docs/PERFORMANCE.md.
 */
final class PrefillAttention implements AutoCloseable {

  static final int MIN_TOKENS = 64;

  static final long MAX_SCORE_BYTES = 2L << 30;

  /**
   * Longest context sent to the GEMM path (longer ones attend in the paged kernel): the bound dates
   * from a softmax that held a row in shared memory; the warp-per-row softmax has none, but longer
   * contexts are not yet measured there.
   */
  static final int MAX_CONTEXT = 12 * 1024;

  /** Queries per tile of a long chunk (each tile attends only as far as its last query). */
  static final int QUERY_TILE = 256;

  private final CudaDriver driver;
  private final Cublas cublas;
  private final CudaKernels kernels;
  private final LlamaConfig cfg;
  private final Precision precision;
  private final boolean flashSupported;
  private boolean useFlash;

  private long kvElems;
  private long qElems;
  private long scoreElems;
  private long kc;
  private long vc;
  private long qp;
  private long scores;
  private long probs;
  private long out;

  PrefillAttention(
      CudaDriver driver,
      Cublas cublas,
      CudaKernels kernels,
      LlamaConfig cfg,
      Precision precision,
      int computeMajor) {
    this.driver = driver;
    this.cublas = cublas;
    this.kernels = kernels;
    this.cfg = cfg;
    this.precision = precision;
    this.flashSupported = flashSupported(precision, cfg.headDim(), computeMajor);
    this.useFlash = flashSupported;
  }

  /**
   * Whether the flash kernel can run: f16 activations, head dim 32, 64 or 128, mma.sync (sm_80+).
   */
  static boolean flashSupported(Precision precision, int headDim, int computeMajor) {
    return precision == Precision.F16
        && (headDim == 32 || headDim == 64 || headDim == 128)
        && computeMajor >= 8;
  }

  /** Flash kernel (where supported) or the GEMM path: for side-by-side measurements. */
  void useFlash(boolean on) {
    useFlash = on && flashSupported;
  }

  /** Whether a chunk of {@code tokens} tokens ending at context {@code ctx} runs here. */
  boolean handles(int tokens, int ctx) {
    if (useFlash) {
      return tokens >= MIN_TOKENS;
    }
    return tokens >= MIN_TOKENS
        && ctx <= MAX_CONTEXT
        && (long) cfg.heads() * tokens * ctx * (4 + precision.bytes) <= MAX_SCORE_BYTES;
  }

  /**
   * Attention of one chunk in layer {@code layer}.
   *
   * @param qkv device address of the chunk's first row of the fused QKV output (fp32)
   * @param table device address of the sequence's block table
   * @param start the chunk's first position
   * @param tokens the chunk's length
   * @param att device address of the chunk's first attention output row
   */
  void run(
      long qkv,
      int qkvStride,
      long kvCache,
      long table,
      int start,
      int tokens,
      int layer,
      long att,
      int blockSize,
      float scale,
      java.util.function.Consumer<String> mark) {
    int ctx = start + tokens;
    int kvHeads = cfg.kvHeads();
    int heads = cfg.heads();
    int group = heads / kvHeads;
    int hd = cfg.headDim();
    int threads = Math.min(128, (hd + 31) / 32 * 32);
    ensure(
        (long) kvHeads * ctx * hd,
        (long) heads * tokens * hd,
        useFlash ? 0 : (long) heads * tokens * ctx);
    kernels.launch(
        "gather_kv",
        ctx,
        kvHeads,
        threads,
        0,
        kvCache,
        kc,
        vc,
        table,
        ctx,
        layer,
        cfg.layers(),
        kvHeads,
        hd,
        blockSize);
    mark.accept("prefill attention: gather K/V");
    int elements = tokens * heads * hd;
    kernels.launch(
        "pack_q",
        (elements + 255) / 256,
        1,
        256,
        0,
        qkv,
        qkvStride,
        qp,
        tokens,
        heads,
        kvHeads,
        hd,
        scale);
    mark.accept("prefill attention: pack Q");
    int rows = group * tokens;
    if (useFlash) {
      kernels.launch(
          "flash_prefill_" + hd,
          (rows + CudaKernels.FLASH_ROWS - 1) / CudaKernels.FLASH_ROWS,
          kvHeads,
          CudaKernels.FLASH_THREADS,
          0,
          qp,
          kc,
          vc,
          att,
          tokens,
          ctx,
          start,
          group,
          heads);
      mark.accept("prefill attention: flash kernel");
      return;
    }
    // Causal: queries t0..t0+len-1 see positions < start + t0 + len only, so the chunk is cut into
    // query tiles and each tile's scores stop there. With 256-query tiles a 2048-token prefill
    // computes, writes and reads 56% of the full square of scores.
    int tile = tokens >= 2 * QUERY_TILE ? QUERY_TILE : tokens;
    for (int t0 = 0; t0 < tokens; t0 += tile) {
      int len = Math.min(tile, tokens - t0);
      int tileCtx = start + t0 + len;
      int tileRows = group * len;
      // S_g (tileRows x tileCtx, row-major) = Qp_g[tile] (tileRows x hd) . K_g[0..tileCtx)^T
      cublas.stridedBatched(
          true,
          false,
          tileCtx,
          tileRows,
          hd,
          kc,
          hd,
          (long) ctx * hd,
          qp + (long) precision.bytes * t0 * group * hd,
          hd,
          (long) rows * hd,
          scores,
          tileCtx,
          (long) tileRows * tileCtx,
          kvHeads,
          precision.cudaType,
          scoreType());
      mark.accept("prefill attention: S = QK^T gemm");
      int softmaxRows = kvHeads * tileRows;
      kernels.launch(
          precision == Precision.F16 ? "causal_softmax_h" : "causal_softmax",
          (softmaxRows + 7) / 8,
          1,
          256,
          0,
          scores,
          probs,
          tileCtx,
          group,
          len,
          start + t0,
          softmaxRows);
      mark.accept("prefill attention: causal softmax");
      // O_g[tile] (tileRows x hd) = P_g (tileRows x tileCtx) . V_g[0..tileCtx) (tileCtx x hd)
      cublas.stridedBatched(
          false,
          false,
          hd,
          tileRows,
          tileCtx,
          vc,
          hd,
          (long) ctx * hd,
          probs,
          tileCtx,
          (long) tileRows * tileCtx,
          out + 4L * t0 * group * hd,
          hd,
          (long) rows * hd,
          kvHeads,
          precision.cudaType,
          Cublas.R_32F);
      mark.accept("prefill attention: O = PV gemm");
    }
    kernels.launch(
        "scatter_attn", (elements + 255) / 256, 1, 256, 0, out, att, tokens, heads, kvHeads, hd);
    mark.accept("prefill attention: scatter");
  }

  /**
   * Scores are half precision when the activations are (as HF's eager attention in fp16: half the
   * bytes of the largest tensors here); bf16 would lose too many digits, so bf16 and fp32 keep
   * fp32.
   */
  private int scoreType() {
    return precision == Precision.F16 ? Cublas.R_16F : Cublas.R_32F;
  }

  private void ensure(long kv, long q, long s) {
    int b = precision.bytes;
    if (kv > kvElems) {
      free(kc, vc);
      kvElems = kv;
      kc = driver.alloc(b * kv);
      vc = driver.alloc(b * kv);
    }
    if (q > qElems) {
      free(qp, out);
      qElems = q;
      qp = driver.alloc(b * q);
      out = driver.alloc(4 * q);
    }
    if (s > scoreElems) {
      free(scores, probs);
      scoreElems = s;
      scores = driver.alloc((precision == Precision.F16 ? 2 : 4) * s);
      probs = driver.alloc(b * s);
    }
  }

  private void free(long... pointers) {
    for (long p : pointers) {
      if (p != 0) {
        driver.free(p);
      }
    }
  }

  @Override
  public void close() {
    free(kc, vc, qp, out, scores, probs);
  }
}
