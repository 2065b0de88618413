package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Llama-family forward pass on one NVIDIA GPU. A step runs every token of its chunks together
 * (prefill chunks and decode tokens alike), as the CPU runner does: per layer RMSNorm, one fused
 * QKV GEMM (cuBLAS), bias/QK-norm/RoPE and the KV store ({@code qkv_prep}), paged attention over
 * the sequence's KV blocks, the output GEMM accumulating into the fp32 residual stream, RMSNorm,
 * one fused gate/up GEMM, SiLU·mul, the down GEMM accumulating again. Only the token ids and block
 * tables go to the GPU per step, and only the logits rows asked for (or their argmax) come back.
 *
 * <p>{@link #kvPool} is a host pool of the same geometry: the scheduler sizes its block manager
 * from it; the KV itself lives on the GPU ({@link CudaKvCache}). Not thread-safe: the scheduler
 * calls one step at a time.
 */
public final class CudaRunner implements ModelRunner {

  /** cuBLAS's fixed workspace (so a graph capture allocates nothing). */
  private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;

  /** Tokens computed together at most; larger steps run in slices of this size, in order. */
  static final int MAX_SLICE_TOKENS = 8192;

  private final CudaDevice device;
  private final CudaDriver driver;
  private final LlamaConfig cfg;
  private final int contextLength;
  private final Precision precision;
  private final int actType;
  private final int actBytes;
  private final KvBlockPool hostPool;
  private final CudaKvCache kv;
  private CudaDeviceKv deviceKv; // made on first use (a KV connector asks at the engine's start)
  private final DeviceWeights w;
  private final Cublas cublas;
  private final CudaKernels kernels;
  private final PrefillAttention prefill;
  private final PagedAttention paged;
  private final MemorySegment stream;
  private final long cublasWorkspace;
  private final java.util.Map<Long, MemorySegment> graphs = new java.util.HashMap<>();
  private boolean useGraphs = true;
  private boolean useGemv = false;
  private boolean registerNorm = true;
  private final int qkvDim;

  // Step buffers on the GPU, grown on demand.
  private int capacity;
  private int logitCapacity;
  private long metaCapacity;
  private long x;
  private long xb;
  private long qkv;
  private long att;
  private long gateUp;
  private long hidden;
  private long ropeCs;
  private long logits;
  private long ids;
  private long argmaxPart; // per row: ARGMAX_SPLITS partial maxima (float), then their indices
  private long meta;
  private MemorySegment hostMeta; // page-locked
  private MemorySegment hostLogits; // page-locked
  private java.util.Map<String, Long> profile; // null unless profiling
  private long profileMark;

  CudaRunner(
      CudaDevice device,
      LlamaConfig cfg,
      LlamaWeights weights,
      RunnerOptions options,
      Precision precision) {
    int group = cfg.heads() / cfg.kvHeads();
    if (group > CudaKernels.ATTENTION_MAX_GROUP
        || group * cfg.headDim() > CudaKernels.ATTENTION_MAX_WIDTH
        || cfg.headDim() > 512) {
      throw new CudaException(
          "the cuda backend's attention supports up to "
              + CudaKernels.ATTENTION_MAX_GROUP
              + " query heads per KV head and group x head dim <= "
              + CudaKernels.ATTENTION_MAX_WIDTH
              + "; this model has "
              + group
              + " x "
              + cfg.headDim());
    }
    this.device = device;
    this.driver = device.driver();
    this.cfg = cfg;
    this.precision = precision;
    this.actType = precision.cudaType;
    this.actBytes = precision.bytes;
    this.qkvDim = cfg.qDim() + 2 * cfg.kvDim();
    this.contextLength =
        options.contextLength() > 0
            ? Math.min(options.contextLength(), cfg.contextLength())
            : cfg.contextLength();
    int blocks =
        options.kvBlocks() > 0
            ? options.kvBlocks()
            : (contextLength + options.blockSize() - 1) / options.blockSize();
    device.makeCurrent();
    KvBlockPool pool = null;
    CudaKvCache cache = null;
    DeviceWeights dw = null;
    Cublas blas = null;
    MemorySegment s = null;
    long workspace = 0;
    try {
      s = driver.createStream();
      pool =
          new KvBlockPool(
              blocks,
              options.blockSize(),
              cfg.layers(),
              cfg.kvHeads(),
              cfg.headDim(),
              options.kvDtype(),
              options.kvSharedDir());
      cache = new CudaKvCache(driver, pool);
      dw = new DeviceWeights(driver, cfg, weights, precision);
      blas = Cublas.load(device.libraries());
      workspace = driver.alloc(CUBLAS_WORKSPACE_BYTES);
      blas.use(s, workspace, CUBLAS_WORKSPACE_BYTES);
      this.kernels =
          new CudaKernels(
              driver,
              s,
              Nvrtc.load(device.libraries()),
              device.major(),
              device.minor(),
              precision,
              options.kvDtype() == KvBlockPool.Dtype.F16,
              kernelCache());
    } catch (RuntimeException e) {
      for (AutoCloseable c : new AutoCloseable[] {blas, dw, cache, pool}) {
        closeQuietly(c);
      }
      if (workspace != 0) {
        long p = workspace;
        closeQuietly(() -> driver.free(p));
      }
      throw e;
    }
    this.stream = s;
    this.cublasWorkspace = workspace;
    this.hostPool = pool;
    this.kv = cache;
    this.w = dw;
    this.cublas = blas;
    this.prefill = new PrefillAttention(driver, cublas, kernels, cfg, precision, device.major());
    this.paged = new PagedAttention(driver, kernels, cfg);
    driver.synchronize(); // the uploads and the KV memset ran on the legacy stream
  }

  /** A runner on {@code device} computing with {@code precision}. */
  public static CudaRunner create(
      CudaDevice device,
      LlamaConfig cfg,
      LlamaWeights weights,
      RunnerOptions options,
      Precision precision) {
    return new CudaRunner(device, cfg, weights, options, precision);
  }

  /** {@code BATON_CUDA_CACHE}, else {@code ~/.cache/baton/cuda}: compiled kernels. */
  private static Path kernelCache() {
    String dir = System.getenv("BATON_CUDA_CACHE");
    return dir != null && !dir.isBlank()
        ? Path.of(dir)
        : Path.of(System.getProperty("user.home"), ".cache", "baton", "cuda");
  }

  public CudaDevice device() {
    return device;
  }

  @Override
  public int vocabSize() {
    return cfg.vocabSize();
  }

  @Override
  public int contextLength() {
    return contextLength;
  }

  @Override
  public KvBlockPool kvPool() {
    return hostPool;
  }

  @Override
  public long weightBytesPerToken() {
    return w.bytesPerToken;
  }

  @Override
  public String kernels() {
    return "cuda "
        + device
        + ": cuBLAS GEMM "
        + precision
        + (precision == Precision.FP32 ? "" : " (fp32 accumulate)")
        + ", NVRTC kernels, paged attention, KV "
        + hostPool.dtype();
  }

  @Override
  public synchronized java.util.Optional<dev.baton.kv.DeviceKvMemory> deviceKv() {
    if (deviceKv == null) {
      deviceKv = new CudaDeviceKv(device, kv);
    }
    return java.util.Optional.of(deviceKv);
  }

  @Override
  public DeviceMemory deviceMemory() {
    device.makeCurrent(); // the metrics scrape runs on its own thread
    long[] freeTotal = driver.memoryInfo();
    return new DeviceMemory("cuda:" + device.ordinal(), freeTotal[1] - freeTotal[0], freeTotal[1]);
  }

  @Override
  public void kvToPool(int[] blocks) {
    device.makeCurrent();
    driver.synchronize(stream);
    for (int b : blocks) {
      kv.download(b, hostPool.block(b));
    }
  }

  @Override
  public void kvFromPool(int[] blocks) {
    device.makeCurrent();
    driver.synchronize(stream);
    for (int b : blocks) {
      kv.upload(b, hostPool.block(b));
    }
  }

  /** Copies device KV block {@code block} into the host pool's block (tests compare layouts). */
  public void downloadBlock(int block) {
    device.makeCurrent();
    driver.synchronize(stream);
    kv.download(block, hostPool.block(block));
  }

  /** Copies the host pool's block {@code block} to the GPU. */
  public void uploadBlock(int block) {
    device.makeCurrent();
    driver.synchronize(stream);
    kv.upload(block, hostPool.block(block));
  }

  /**
   * Starts ({@code sink} not null) or stops timing each kind of work: every kernel and GEMM is
   * waited for and its wall time added to {@code sink} under its name. Slows steps down; for
   * finding where time goes, not for measuring speed.
   */
  public void profile(java.util.Map<String, Long> sink) {
    this.profile = sink;
  }

  private void mark(String what) {
    if (profile != null) {
      driver.synchronize(stream);
      long now = System.nanoTime();
      profile.merge(what, now - profileMark, Long::sum);
      profileMark = now;
    }
  }

  // ------------------------------------------------------------------ the step

  @Override
  public List<float[]> forward(List<SeqChunk> batch) {
    Step s = run(batch);
    List<float[]> result = new ArrayList<>(Arrays.asList(new float[batch.size()][]));
    for (Slice slice : s.slices) {
      for (int j = 0; j < slice.chunks.length; j++) {
        result.set(slice.chunks[j], slice.logits[j]);
      }
    }
    return result;
  }

  /**
   * The argmax of each chunk's logits row, computed on the GPU ({@code -1} for chunks with {@code
   * wantLogits == false}).
   */
  @Override
  public int[] forwardArgmax(List<SeqChunk> batch) {
    Step s = run(batch, true);
    int[] out = new int[batch.size()];
    Arrays.fill(out, -1);
    for (Slice slice : s.slices) {
      for (int j = 0; j < slice.chunks.length; j++) {
        out[slice.chunks[j]] = slice.ids[j];
      }
    }
    return out;
  }

  private record Slice(int[] chunks, float[][] logits, int[] ids) {}

  private record Step(List<Slice> slices) {}

  private Step run(List<SeqChunk> batch) {
    return run(batch, false);
  }

  private Step run(List<SeqChunk> batch, boolean greedy) {
    int total = 0;
    int tableInts = 0;
    for (SeqChunk c : batch) {
      ModelRunner.checkChunk(
          c, contextLength, hostPool.blockSize(), hostPool.numBlocks(), cfg.vocabSize());
      total += c.tokens().length;
      tableInts += blocksNeeded(c);
    }
    int[] tok = new int[total];
    int[] pos = new int[total];
    int[] chunkOf = new int[total];
    int[] tableStart = new int[batch.size()];
    int[] tables = new int[tableInts];
    int i = 0;
    int ti = 0;
    for (int c = 0; c < batch.size(); c++) {
      SeqChunk chunk = batch.get(c);
      tableStart[c] = ti;
      int n = blocksNeeded(chunk);
      System.arraycopy(chunk.blockTable(), 0, tables, ti, n);
      ti += n;
      for (int j = 0; j < chunk.tokens().length; j++, i++) {
        tok[i] = chunk.tokens()[j];
        pos[i] = chunk.startPos() + j;
        chunkOf[i] = c;
      }
    }
    device.makeCurrent();
    List<Slice> slices = new ArrayList<>();
    for (int from = 0; from < total; from += MAX_SLICE_TOKENS) {
      int n = Math.min(MAX_SLICE_TOKENS, total - from);
      List<Integer> chunks = new ArrayList<>();
      List<Integer> rows = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        int t = from + r;
        boolean last = t + 1 == total || chunkOf[t + 1] != chunkOf[t];
        if (last && batch.get(chunkOf[t]).wantLogits()) {
          chunks.add(chunkOf[t]);
          rows.add(r);
        }
      }
      slices.add(
          runSlice(
              from,
              n,
              tok,
              pos,
              chunkOf,
              tableStart,
              tables,
              chunks.stream().mapToInt(Integer::intValue).toArray(),
              rows.stream().mapToInt(Integer::intValue).toArray(),
              greedy));
    }
    return new Step(slices);
  }

  private int blocksNeeded(SeqChunk c) {
    int end = c.startPos() + c.tokens().length;
    return (end + hostPool.blockSize() - 1) / hostPool.blockSize();
  }

  /** Runs tokens {@code from..from+n} through the model; logits (or argmax) for {@code rows}. */
  private Slice runSlice(
      int from,
      int n,
      int[] tok,
      int[] pos,
      int[] chunkOf,
      int[] tableStart,
      int[] tables,
      int[] chunks,
      int[] rows,
      boolean greedy) {
    int m = rows.length;
    ensureCapacity(n, m, 7L * n + m + tables.length);
    int bs = hostPool.blockSize();
    // meta: tokens | positions | slot block | slot offset | sequence length | table start | rows |
    // tables
    long oTok = 0;
    long oPos = n;
    long oSlotBlock = 2L * n;
    long oSlotOff = 3L * n;
    long oLen = 4L * n;
    long oStart = 5L * n;
    long oRows = 6L * n;
    long oTables = 6L * n + m;
    for (int r = 0; r < n; r++) {
      int t = from + r;
      int p = pos[t];
      int[] table = tables;
      int start = tableStart[chunkOf[t]];
      hostMeta.setAtIndex(JAVA_INT, oTok + r, tok[t]);
      hostMeta.setAtIndex(JAVA_INT, oPos + r, p);
      hostMeta.setAtIndex(JAVA_INT, oSlotBlock + r, table[start + p / bs]);
      hostMeta.setAtIndex(JAVA_INT, oSlotOff + r, p % bs);
      hostMeta.setAtIndex(JAVA_INT, oLen + r, p + 1);
      hostMeta.setAtIndex(JAVA_INT, oStart + r, start);
    }
    for (int j = 0; j < m; j++) {
      hostMeta.setAtIndex(JAVA_INT, oRows + j, rows[j]);
    }
    List<LongChunk> longChunks = longChunks(from, n, pos, chunkOf, tableStart);
    for (LongChunk c : longChunks) {
      for (int r = c.row0; r < c.row0 + c.tokens; r++) {
        hostMeta.setAtIndex(JAVA_INT, oLen + r, 0); // the paged kernel skips these tokens
      }
    }
    MemorySegment.copy(tables, 0, hostMeta, JAVA_INT, 4 * oTables, tables.length);
    profileMark = System.nanoTime();
    driver.copyToDeviceAsync(meta, hostMeta, 4 * (oTables + tables.length), stream);
    mark("upload step inputs");
    if (useGraphs && profile == null && m == n && longChunks.isEmpty()) {
      // A decode step: the same launches every time for this batch size, so replay them.
      long key = 2L * n + (greedy ? 1 : 0);
      MemorySegment exec = graphs.get(key);
      if (exec == null) {
        driver.beginCapture(stream);
        try {
          enqueue(n, m, greedy, longChunks);
        } catch (RuntimeException e) {
          closeQuietly(() -> driver.destroyGraph(driver.endCapture(stream)));
          throw e;
        }
        exec = driver.endCapture(stream);
        graphs.put(key, exec);
      }
      driver.launchGraph(exec, stream);
    } else {
      enqueue(n, m, greedy, longChunks);
    }
    if (m == 0) {
      driver.synchronize(stream);
      return new Slice(chunks, null, null);
    }
    int vocab = cfg.vocabSize();
    if (greedy) {
      driver.copyToHostAsync(hostMeta, ids, 4L * m, stream);
      driver.synchronize(stream);
      mark("argmax + copy back");
      return new Slice(chunks, null, hostMeta.asSlice(0, 4L * m).toArray(JAVA_INT));
    }
    driver.copyToHostAsync(hostLogits, logits, 4L * m * vocab, stream);
    driver.synchronize(stream);
    mark("copy logits back");
    float[][] out = new float[m][vocab];
    for (int j = 0; j < m; j++) {
      MemorySegment.copy(hostLogits, JAVA_FLOAT, 4L * j * vocab, out[j], 0, vocab);
    }
    mark("logits to float[]");
    return new Slice(chunks, out, null);
  }

  /** Enqueues the step's work on the stream (or into the graph being captured). */
  private void enqueue(int n, int m, boolean greedy, List<LongChunk> longChunks) {
    int bs = hostPool.blockSize();
    long oTok = 0;
    long oPos = n;
    long oSlotBlock = 2L * n;
    long oSlotOff = 3L * n;
    long oLen = 4L * n;
    long oStart = 5L * n;
    long oRows = 6L * n;
    long oTables = 6L * n + m;
    int dim = cfg.dim();
    int ffn = cfg.ffnDim();
    int hd = cfg.headDim();
    float eps = cfg.rmsEps();
    float scale = (float) (1.0 / Math.sqrt(hd));
    int neox = cfg.ropeStyle() == LlamaConfig.RopeStyle.NEOX ? 1 : 0;
    int longTokens = longChunks.stream().mapToInt(LongChunk::tokens).sum();
    kernels.launch("rope_table", n, 1, 64, 0, meta + 4 * oPos, w.invFreq, ropeCs, hd / 2);
    kernels.launch("embed", n, 1, 256, 0, w.embedding, meta + 4 * oTok, x, dim);
    mark("embed");
    for (int li = 0; li < w.layers.length; li++) {
      DeviceWeights.Layer l = w.layers[li];
      rmsnorm(n, x, l.attnNorm(), xb, 0L);
      mark("rmsnorm");
      linear(l.qkv(), xb, qkv, n, qkvDim, dim, qkvDim, false);
      mark("gemm qkv");
      kernels.launch(
          "qkv_prep",
          n,
          cfg.heads() + 2 * cfg.kvHeads(),
          32,
          0,
          qkv,
          qkvDim,
          l.qkvBias(),
          l.qNorm(),
          l.kNorm(),
          ropeCs,
          meta + 4 * oSlotBlock,
          meta + 4 * oSlotOff,
          kv.base,
          li,
          cfg.layers(),
          cfg.heads(),
          cfg.kvHeads(),
          hd,
          bs,
          eps,
          neox);
      mark("qkv_prep (bias, norm, rope, KV store)");
      if (longTokens < n) { // else every token attends on the GEMM path below
        paged.run(
            n,
            qkv,
            qkvDim,
            kv.base,
            att,
            meta + 4 * oLen,
            meta + 4 * oStart,
            meta + 4 * oTables,
            li,
            bs,
            scale);
      }
      mark("attention");
      for (LongChunk c : longChunks) {
        prefill.run(
            qkv + 4L * c.row0 * qkvDim,
            qkvDim,
            kv.base,
            meta + 4 * (oTables + c.tableStart),
            c.start,
            c.tokens,
            li,
            att + (long) actBytes * c.row0 * cfg.qDim(),
            bs,
            scale,
            this::mark);
      }
      linear(l.wo(), att, x, n, dim, cfg.qDim(), dim, true);
      mark("gemm o (+ residual)");
      rmsnorm(n, x, l.ffnNorm(), xb, 0L);
      mark("rmsnorm");
      linear(l.gateUp(), xb, gateUp, n, 2 * ffn, dim, 2 * ffn, false);
      mark("gemm gate/up");
      kernels.launch("silu_mul", (ffn + 255) / 256, n, 256, 0, gateUp, hidden, ffn);
      mark("silu_mul");
      linear(l.down(), hidden, x, n, dim, ffn, dim, true);
      mark("gemm down (+ residual)");
    }
    if (m > 0) {
      int vocab = cfg.vocabSize();
      rmsnorm(m, x, w.outputNorm, xb, meta + 4 * oRows);
      linear(w.output, xb, logits, m, vocab, dim, vocab, false);
      mark("final norm + logits gemm");
      if (greedy) {
        long partI = argmaxPart + 4L * CudaKernels.ARGMAX_SPLITS * logitCapacity;
        kernels.launch(
            "argmax_partial",
            CudaKernels.ARGMAX_SPLITS,
            m,
            256,
            0,
            logits,
            vocab,
            argmaxPart,
            partI);
        kernels.launch("argmax_final", m, 1, 32, 0, argmaxPart, partI, ids);
      }
    }
  }

  /**
   * RMSNorm of {@code rows} rows of the residual stream into {@code out}: {@code rmsnorm_regs}
   * (values held in registers, loads all in flight) where a row fits, else the looping kernel.
   */
  private void rmsnorm(int rows, long in, long weight, long out, long rowIndex) {
    int dim = cfg.dim();
    int threads = (dim + CudaKernels.NORM_REGS - 1) / CudaKernels.NORM_REGS;
    threads = Math.max(32, (threads + 31) / 32 * 32);
    if (registerNorm && threads <= 1024) {
      kernels.launch(
          "rmsnorm_regs", rows, 1, threads, 0, in, weight, out, dim, cfg.rmsEps(), rowIndex);
    } else {
      kernels.launch("rmsnorm", rows, 1, 256, 0, in, weight, out, dim, cfg.rmsEps(), rowIndex);
    }
  }

  /** A whole chunk inside the slice that {@link PrefillAttention} computes. */
  private record LongChunk(int row0, int tokens, int start, int tableStart) {}

  private List<LongChunk> longChunks(int from, int n, int[] pos, int[] chunkOf, int[] tableStart) {
    List<LongChunk> out = new ArrayList<>();
    int total = pos.length;
    int r0 = 0;
    while (r0 < n) {
      int c = chunkOf[from + r0];
      int r1 = r0;
      while (r1 + 1 < n && chunkOf[from + r1 + 1] == c) {
        r1++;
      }
      boolean whole =
          (from + r0 == 0 || chunkOf[from + r0 - 1] != c)
              && (from + r1 + 1 == total || chunkOf[from + r1 + 1] != c);
      int tokens = r1 - r0 + 1;
      int start = pos[from + r0];
      if (whole && prefill.handles(tokens, start + tokens)) {
        out.add(new LongChunk(r0, tokens, start, tableStart[c]));
      }
      r0 = r1 + 1;
    }
    return out;
  }

  /**
   * Long prefill chunks attend in the flash kernel (default where supported) or through two cuBLAS
   * GEMMs and a softmax: for side-by-side measurements (GpuBench).
   */
  public void useFlashAttention(boolean on) {
    prefill.useFlash(on);
  }

  /** Whether long prefill chunks on {@code device} attend in the flash kernel by default. */
  public static boolean flashPrefill(CudaDevice device, Precision precision, int headDim) {
    return PrefillAttention.flashSupported(precision, headDim, device.major());
  }

  /**
   * Whether inputs of at most {@link CudaKernels#GEMV_MAX_N} rows go through Baton's {@code gemv}
   * kernel or cuBLAS (default: cuBLAS reads the weights up to twice as fast, GemvProbe).
   */
  public void useGemv(boolean on) {
    if (on != useGemv) {
      dropGraphs(); // recorded graphs hold the other choice's launches
    }
    useGemv = on;
  }

  /** {@code y (n x out) (+)= x (n x in) . W^T}: cuBLAS (or the gemv kernel when asked). */
  private void linear(long w, long x, long y, int n, int out, int in, int ldy, boolean accumulate) {
    if (useGemv && n <= CudaKernels.GEMV_MAX_N && in % (16 / actBytes) == 0) {
      kernels.launch(
          "gemv", (out + 7) / 8, 1, 256, 0, w, x, y, n, out, in, ldy, accumulate ? 1 : 0);
    } else {
      cublas.linear(w, x, y, n, out, in, actType, ldy, accumulate);
    }
  }

  /**
   * RMSNorm with each row held in registers (default) or the looping kernel: for side-by-side
   * measurements (GpuBench).
   */
  public void useRegisterNorm(boolean on) {
    if (on != registerNorm) {
      dropGraphs();
    }
    registerNorm = on;
  }

  /**
   * Decode attention slices of at least 16 positions (default) or 64 (the first choice): for
   * side-by-side measurements (GpuBench).
   */
  public void useShortAttentionSlices(boolean on) {
    int positions = on ? PagedAttention.MIN_SLICE : PagedAttention.MIN_SLICE_BEFORE;
    if (positions != paged.minSlice()) {
      dropGraphs();
    }
    paged.minSlice(positions);
  }

  /**
   * Whether decode-sized steps attend through {@code attention_split} + {@code attention_combine}
   * (default) or the one-block-per-KV-head {@code attention} kernel (for measuring the difference).
   */
  public void useSplitAttention(boolean on) {
    if (on != paged.usesSplit()) {
      dropGraphs();
    }
    paged.useSplit(on);
  }

  /**
   * Whether decode steps replay a recorded CUDA graph (default) or launch every kernel and GEMM
   * from the host (for measuring the difference).
   */
  public void useGraphs(boolean on) {
    useGraphs = on;
  }

  /** Recorded graphs hold buffer addresses: any reallocation makes them stale. */
  private void dropGraphs() {
    for (MemorySegment g : graphs.values()) {
      driver.destroyGraph(g);
    }
    graphs.clear();
  }

  private void ensureCapacity(int n, int m, long metaInts) {
    if (n > capacity || m > logitCapacity || metaInts > metaCapacity) {
      dropGraphs();
    }
    if (n > capacity) {
      freeAll(x, xb, qkv, att, gateUp, hidden, ropeCs);
      capacity = Math.max(n, 2 * capacity);
      int c = capacity;
      x = driver.alloc(4L * c * cfg.dim());
      xb = driver.alloc((long) actBytes * c * cfg.dim());
      qkv = driver.alloc(4L * c * qkvDim);
      att = driver.alloc((long) actBytes * c * cfg.qDim());
      gateUp = driver.alloc(8L * c * cfg.ffnDim());
      hidden = driver.alloc((long) actBytes * c * cfg.ffnDim());
      ropeCs = driver.alloc(4L * c * cfg.headDim());
    }
    if (m > logitCapacity) {
      freeAll(logits, ids, argmaxPart);
      logitCapacity = Math.max(m, 2 * logitCapacity);
      logits = driver.alloc(4L * logitCapacity * cfg.vocabSize());
      ids = driver.alloc(4L * logitCapacity);
      argmaxPart = driver.alloc(8L * CudaKernels.ARGMAX_SPLITS * logitCapacity);
      if (hostLogits != null) {
        driver.freeHost(hostLogits);
      }
      hostLogits = driver.hostAlloc(4L * logitCapacity * cfg.vocabSize());
    }
    if (metaInts > metaCapacity) {
      freeAll(meta);
      metaCapacity = Math.max(metaInts, 2 * metaCapacity);
      meta = driver.alloc(4 * metaCapacity);
      if (hostMeta != null) {
        driver.freeHost(hostMeta);
      }
      hostMeta = driver.hostAlloc(4 * metaCapacity);
    }
  }

  private void freeAll(long... pointers) {
    for (long p : pointers) {
      if (p != 0) {
        driver.free(p);
      }
    }
  }

  @Override
  public void close() {
    device.makeCurrent();
    dropGraphs();
    freeAll(
        x, xb, qkv, att, gateUp, hidden, ropeCs, logits, ids, argmaxPart, meta, cublasWorkspace);
    if (deviceKv != null) {
      deviceKv.close();
    }
    prefill.close();
    paged.close();
    cublas.close();
    kernels.close();
    w.close();
    kv.close();
    hostPool.close();
    for (MemorySegment m : new MemorySegment[] {hostMeta, hostLogits}) {
      if (m != null) {
        driver.freeHost(m);
      }
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      // Already failing: the first error is the one reported.
    }
  }
}
