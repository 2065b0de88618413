package dev.baton.engine.forward;

import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.kernel.Attention;
import dev.baton.engine.kernel.Kernels;
import dev.baton.engine.kernel.Parallel;
import dev.baton.engine.kernel.Tensor;
import dev.baton.engine.kernel.WarmUp;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Llama-family forward pass (llama, qwen2, qwen3) on the CPU. One {@link #forward} call runs
 * every token of the step's chunks together: each projection is one matrix-matrix product over all
 * tokens (prefill chunks and decode tokens alike), so a weight is read from memory once per step;
 * attention runs per (token, head) over the sequence's KV blocks. Work is split across a persistent
 * thread pool by output rows (projections) and by (token, head) (attention).
 *
 * <p>Owns its thread pool and the KV pool it is given (closed with it); the weights' file must stay
 * open while the runner lives.
 */
public final class LlamaRunner implements ModelRunner {

  /** Tokens computed together at most; larger steps run in slices of this size, in order. */
  static final int MAX_SLICE_TOKENS = 256;

  private final LlamaConfig cfg;
  private final KvBlockPool pool;
  private final Parallel parallel;
  private final int contextLength;
  private final Tensor embedding;
  private final Tensor output;
  private final Arena packedWeights = Arena.ofShared(); // kernel-specific copies (Kernels.prepare)
  private final float[] outputNorm;
  private final Layer[] layers;
  private final double[] invFreq; // (headDim / 2)
  private final float[][] scratch; // per thread: dequantized weight rows
  private final float[][] scores; // per thread: attention scores
  private final float[][] kvTmp; // per thread: one K or V block run as floats

  // Step buffers, grown on demand and reused: (tokens, width) row-major.
  private int capacity;
  private float[] x; // (n, dim) residual stream
  private float[] xb; // (n, dim) normed input / projection output
  private float[] q; // (n, qDim)
  private float[] k; // (n, kvDim)
  private float[] v; // (n, kvDim)
  private float[] att; // (n, qDim)
  private float[] gate; // (n, ffnDim)
  private float[] up; // (n, ffnDim)
  private float[] ropeCos; // (n, headDim / 2)
  private float[] ropeSin; // (n, headDim / 2)

  /** One block's weights, as kernel tensors and float vectors. */
  private record Layer(
      float[] attnNorm,
      Tensor[] qkv,
      float[] bq,
      float[] bk,
      float[] bv,
      float[] qNorm,
      float[] kNorm,
      Tensor wo,
      float[] ffnNorm,
      Tensor[] gateUp,
      Tensor down) {}

  /**
   * @param contextLength longest sequence served (at most the model's trained context)
   * @param threads compute threads (including the caller's)
   */
  public LlamaRunner(
      LlamaConfig cfg, LlamaWeights weights, KvBlockPool pool, int contextLength, int threads) {
    if (pool.layers() != cfg.layers()
        || pool.kvHeads() != cfg.kvHeads()
        || pool.headDim() != cfg.headDim()) {
      throw new IllegalArgumentException(
          "KV pool shape (layers "
              + pool.layers()
              + ", kv heads "
              + pool.kvHeads()
              + ", head dim "
              + pool.headDim()
              + ") does not match the model ("
              + cfg.layers()
              + ", "
              + cfg.kvHeads()
              + ", "
              + cfg.headDim()
              + ")");
    }
    this.cfg = cfg;
    this.pool = pool;
    this.contextLength = Math.min(contextLength, cfg.contextLength());
    this.embedding = tensor(weights.tokenEmbedding());
    this.output = prepared(weights.output());
    this.outputNorm = weights.outputNorm().toFloatArray();
    this.layers = new Layer[cfg.layers()];
    for (int i = 0; i < layers.length; i++) {
      LlamaWeights.Layer l = weights.layers().get(i);
      layers[i] =
          new Layer(
              l.attnNorm().toFloatArray(),
              new Tensor[] {prepared(l.wq()), prepared(l.wk()), prepared(l.wv())},
              floats(l.bq()),
              floats(l.bk()),
              floats(l.bv()),
              floats(l.qNorm()),
              floats(l.kNorm()),
              prepared(l.wo()),
              l.ffnNorm().toFloatArray(),
              new Tensor[] {prepared(l.ffnGate()), prepared(l.ffnUp())},
              prepared(l.ffnDown()));
    }
    this.invFreq = new double[cfg.headDim() / 2];
    for (int i = 0; i < invFreq.length; i++) {
      invFreq[i] = cfg.ropeInvFreq(i);
    }
    this.parallel = new Parallel(threads);
    int maxCols = Math.max(cfg.ffnDim(), Math.max(cfg.dim(), cfg.qDim()));
    this.scratch = new float[threads][Kernels.scratchFloats(maxCols)];
    this.scores = new float[threads][0];
    this.kvTmp = new float[threads][pool.blockSize() * pool.headDim()];
    List<Tensor> matrices = new ArrayList<>(List.of(embedding, output));
    for (Layer l : layers) {
      matrices.addAll(List.of(l.qkv));
      matrices.addAll(List.of(l.gateUp));
      matrices.add(l.wo);
      matrices.add(l.down);
    }
    WarmUp.run(matrices, pool);
  }

  /** A matrix multiplied by {@link Kernels#gemm}, in the form the kernels read fastest. */
  private Tensor prepared(GgufTensor t) {
    return Kernels.prepare(tensor(t), packedWeights);
  }

  private static Tensor tensor(GgufTensor t) {
    return new Tensor(
        t.name(), t.data(), t.type(), Math.toIntExact(t.rows()), Math.toIntExact(t.rowLength()));
  }

  private static float[] floats(GgufTensor t) {
    return t == null ? null : t.toFloatArray();
  }

  public LlamaConfig config() {
    return cfg;
  }

  /** Bytes of weights one decode step reads (every matrix once, plus one embedding row). */
  @Override
  public long weightBytesPerToken() {
    long sum = output.byteSize() + embedding.rowBytes();
    for (Layer l : layers) {
      for (Tensor t : l.qkv) {
        sum += t.byteSize();
      }
      for (Tensor t : l.gateUp) {
        sum += t.byteSize();
      }
      sum += l.wo.byteSize() + l.down.byteSize();
    }
    return sum;
  }

  @Override
  public int threads() {
    return parallel.threads();
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
    return pool;
  }

  @Override
  public String kernels() {
    return dev.baton.engine.kernel.Kernels.describe();
  }

  @Override
  public double[] readBandwidth(List<java.lang.foreign.MemorySegment> segments) {
    try (dev.baton.engine.kernel.Parallel p = new dev.baton.engine.kernel.Parallel(threads())) {
      return dev.baton.engine.kernel.MemoryBandwidth.measureBoth(segments, p, 7);
    }
  }

  @Override
  public void close() {
    parallel.close();
    pool.close();
    packedWeights.close();
  }

  // ------------------------------------------------------------------ the step

  @Override
  public List<float[]> forward(List<SeqChunk> batch) {
    int total = 0;
    for (SeqChunk c : batch) {
      ModelRunner.checkChunk(c, contextLength, pool.blockSize(), pool.numBlocks(), cfg.vocabSize());
      total += c.tokens().length;
    }
    int[] tok = new int[total];
    int[] pos = new int[total];
    int[] seq = new int[total];
    boolean[] wantRow = new boolean[total];
    int[] chunkOfRow = new int[total];
    int i = 0;
    for (int c = 0; c < batch.size(); c++) {
      SeqChunk chunk = batch.get(c);
      for (int j = 0; j < chunk.tokens().length; j++, i++) {
        tok[i] = chunk.tokens()[j];
        pos[i] = chunk.startPos() + j;
        seq[i] = c;
      }
      if (chunk.wantLogits()) {
        wantRow[i - 1] = true;
        chunkOfRow[i - 1] = c;
      }
    }
    List<float[]> result = new ArrayList<>(batch.size());
    for (int c = 0; c < batch.size(); c++) {
      result.add(null);
    }
    int[][] tables = new int[batch.size()][];
    for (int c = 0; c < batch.size(); c++) {
      tables[c] = batch.get(c).blockTable();
    }
    for (int from = 0; from < total; from += MAX_SLICE_TOKENS) {
      int n = Math.min(MAX_SLICE_TOKENS, total - from);
      runSlice(from, n, tok, pos, seq, tables);
      List<Integer> rows = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        if (wantRow[from + r]) {
          rows.add(r);
        }
      }
      if (!rows.isEmpty()) {
        float[][] logits = logits(rows);
        for (int j = 0; j < rows.size(); j++) {
          result.set(chunkOfRow[from + rows.get(j)], logits[j]);
        }
      }
    }
    return result;
  }

  private void ensureCapacity(int n) {
    if (n <= capacity) {
      return;
    }
    capacity = n;
    x = new float[n * cfg.dim()];
    xb = new float[n * cfg.dim()];
    q = new float[n * cfg.qDim()];
    k = new float[n * cfg.kvDim()];
    v = new float[n * cfg.kvDim()];
    att = new float[n * cfg.qDim()];
    gate = new float[n * cfg.ffnDim()];
    up = new float[n * cfg.ffnDim()];
    ropeCos = new float[n * invFreq.length];
    ropeSin = new float[n * invFreq.length];
  }

  /** Runs tokens {@code from..from+n} of the step through every layer (x ends in {@link #x}). */
  private void runSlice(int from, int n, int[] tok, int[] pos, int[] seq, int[][] tables) {
    ensureCapacity(n);
    int dim = cfg.dim();
    int half = invFreq.length;
    for (int t = 0; t < n; t++) {
      Kernels.dequantizeRow(embedding, tok[from + t], x, t * dim);
      for (int i = 0; i < half; i++) {
        double angle = pos[from + t] * invFreq[i];
        ropeCos[t * half + i] = (float) Math.cos(angle);
        ropeSin[t * half + i] = (float) Math.sin(angle);
      }
    }
    int maxLen = 0;
    for (int t = 0; t < n; t++) {
      maxLen = Math.max(maxLen, pos[from + t] + 1);
    }
    for (int th = 0; th < scores.length; th++) {
      int need = maxLen * (cfg.heads() / cfg.kvHeads());
      if (scores[th].length < need) {
        scores[th] = new float[Math.max(need, 2 * scores[th].length)];
      }
    }
    for (int li = 0; li < layers.length; li++) {
      Layer l = layers[li];
      normRows(x, l.attnNorm, n);
      matmul(l.qkv, new float[][] {q, k, v}, n, null);
      int layer = li;
      parallel.run(
          th -> {
            for (int t = Parallel.split(n, parallel.threads(), th);
                t < Parallel.split(n, parallel.threads(), th + 1);
                t++) {
              prepareQk(l, t);
              int p = pos[from + t];
              int[] table = tables[seq[from + t]];
              Attention.store(
                  pool,
                  layer,
                  table[p / pool.blockSize()],
                  p % pool.blockSize(),
                  k,
                  t * cfg.kvDim(),
                  v,
                  t * cfg.kvDim());
            }
          });
      attention(layer, n, from, pos, seq, tables);
      matmul(new Tensor[] {l.wo}, new float[][] {xb}, n, att);
      normRows(x, l.ffnNorm, n);
      matmul(l.gateUp, new float[][] {gate, up}, n, null);
      int ffn = cfg.ffnDim();
      parallel.run(
          th -> {
            int a = Parallel.split(n * ffn / 16, parallel.threads(), th) * 16;
            int b = Parallel.split(n * ffn / 16, parallel.threads(), th + 1) * 16;
            Kernels.siluMul(gate, a, up, a, b - a);
          });
      matmul(new Tensor[] {l.down}, new float[][] {xb}, n, gate);
    }
  }

  /** xb = rmsnorm(x) * weight, row by row. */
  private void normRows(float[] in, float[] weight, int n) {
    int dim = cfg.dim();
    for (int t = 0; t < n; t++) {
      Kernels.rmsNorm(xb, t * dim, in, t * dim, weight, dim, cfg.rmsEps());
    }
  }

  /**
   * One parallel section for one or more projections of the same input: the rows of all of them are
   * split evenly between the threads. With {@code residualInput} null the input is {@link #xb} and
   * the outputs are written; otherwise the input is {@code residualInput}, the single output is
   * {@link #xb}, and each thread adds its rows into the residual stream {@link #x}.
   */
  private void matmul(Tensor[] ws, float[][] outs, int n, float[] residualInput) {
    float[] in = residualInput == null ? xb : residualInput;
    int inStride = ws[0].cols();
    int totalRows = 0;
    for (Tensor w : ws) {
      totalRows += w.rows();
    }
    int unit = Kernels.ROW_UNIT;
    int units = (totalRows + unit - 1) / unit;
    int threads = parallel.threads();
    int rowsAll = totalRows;
    parallel.run(
        th -> {
          int a = Math.min(rowsAll, Parallel.split(units, threads, th) * unit);
          int b = Math.min(rowsAll, Parallel.split(units, threads, th + 1) * unit);
          int base = 0;
          for (int i = 0; i < ws.length; i++) {
            Tensor w = ws[i];
            int lo = Math.max(a, base) - base;
            int hi = Math.min(b, base + w.rows()) - base;
            if (lo < hi) {
              Kernels.gemm(w, in, inStride, n, outs[i], w.rows(), lo, hi, scratch[th]);
              if (residualInput != null) {
                for (int t = 0; t < n; t++) {
                  int o = t * w.rows();
                  for (int r = lo; r < hi; r++) {
                    x[o + r] += outs[i][o + r];
                  }
                }
              }
            }
            base += w.rows();
          }
        });
  }

  /** Bias, Q/K norm and RoPE for token {@code t} (rows of {@link #q} and {@link #k}). */
  private void prepareQk(Layer l, int t) {
    int hd = cfg.headDim();
    int qo = t * cfg.qDim();
    int ko = t * cfg.kvDim();
    if (l.bq != null) {
      Kernels.add(q, qo, l.bq, 0, cfg.qDim());
      Kernels.add(k, ko, l.bk, 0, cfg.kvDim());
      Kernels.add(v, ko, l.bv, 0, cfg.kvDim());
    }
    for (int h = 0; h < cfg.heads(); h++) {
      if (l.qNorm != null) {
        Kernels.rmsNorm(q, qo + h * hd, q, qo + h * hd, l.qNorm, hd, cfg.rmsEps());
      }
      rope(q, qo + h * hd, t);
    }
    for (int h = 0; h < cfg.kvHeads(); h++) {
      if (l.kNorm != null) {
        Kernels.rmsNorm(k, ko + h * hd, k, ko + h * hd, l.kNorm, hd, cfg.rmsEps());
      }
      rope(k, ko + h * hd, t);
    }
  }

  /** Rotates one head's vector at {@code off} by token {@code t}'s angles. */
  private void rope(float[] vec, int off, int t) {
    int half = invFreq.length;
    int c0 = t * half;
    if (cfg.ropeStyle() == LlamaConfig.RopeStyle.NORMAL) {
      for (int i = 0; i < half; i++) {
        float a = vec[off + 2 * i];
        float b = vec[off + 2 * i + 1];
        float c = ropeCos[c0 + i];
        float s = ropeSin[c0 + i];
        vec[off + 2 * i] = a * c - b * s;
        vec[off + 2 * i + 1] = a * s + b * c;
      }
    } else {
      for (int i = 0; i < half; i++) {
        float a = vec[off + i];
        float b = vec[off + i + half];
        float c = ropeCos[c0 + i];
        float s = ropeSin[c0 + i];
        vec[off + i] = a * c - b * s;
        vec[off + i + half] = a * s + b * c;
      }
    }
  }

  /**
   * Attention for every (token, kv head) of the slice: the query heads of one group share their K
   * and V reads ({@link Attention#attendVector}).
   */
  private void attention(int layer, int n, int from, int[] pos, int[] seq, int[][] tables) {
    int kvHeads = cfg.kvHeads();
    int group = cfg.heads() / kvHeads;
    int hd = cfg.headDim();
    float scale = (float) (1.0 / Math.sqrt(hd));
    int items = n * kvHeads;
    parallel.run(
        th -> {
          float[] sc = scores[th];
          float[] tmp = kvTmp[th];
          for (int it = Parallel.split(items, parallel.threads(), th);
              it < Parallel.split(items, parallel.threads(), th + 1);
              it++) {
            int t = it / kvHeads;
            int g = it % kvHeads;
            int off = t * cfg.qDim() + g * group * hd;
            int len = pos[from + t] + 1;
            int[] table = tables[seq[from + t]];
            if (Kernels.VECTOR) {
              Attention.attendVector(
                  pool, layer, table, g, len, group, q, off, scale, att, off, sc, tmp);
            } else {
              for (int h = 0; h < group; h++) {
                Attention.attendScalar(
                    pool, layer, table, g, len, q, off + h * hd, scale, att, off + h * hd, sc);
              }
            }
          }
        });
  }

  /** Final norm and output projection for the given rows of the last slice. */
  private float[][] logits(List<Integer> rows) {
    int dim = cfg.dim();
    int m = rows.size();
    float[] normed = new float[m * dim];
    for (int j = 0; j < m; j++) {
      Kernels.rmsNorm(normed, j * dim, x, rows.get(j) * dim, outputNorm, dim, cfg.rmsEps());
    }
    int vocab = cfg.vocabSize();
    float[] out = new float[m * vocab];
    int unit = Kernels.ROW_UNIT;
    int units = (vocab + unit - 1) / unit;
    int threads = parallel.threads();
    parallel.run(
        th -> {
          int a = Math.min(vocab, Parallel.split(units, threads, th) * unit);
          int b = Math.min(vocab, Parallel.split(units, threads, th + 1) * unit);
          if (a < b) {
            Kernels.gemm(output, normed, dim, m, out, vocab, a, b, scratch[th]);
          }
        });
    float[][] result = new float[m][];
    for (int j = 0; j < m; j++) {
      result[j] = Arrays.copyOfRange(out, j * vocab, (j + 1) * vocab);
    }
    return result;
  }
}
