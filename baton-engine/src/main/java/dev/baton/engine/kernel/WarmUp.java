package dev.baton.engine.kernel;

import dev.baton.engine.KvBlockPool;
import dev.baton.model.GgmlType;
import java.util.Collection;
import java.util.EnumSet;
import java.util.Set;

/**
 * Gets the kernels compiled before the first real step. Vector API code runs orders of magnitude
 * slower until C2 compiles it (the interpreter boxes every vector), so without this the first
 * prompt of a process would crawl through a gigabyte of weights in the interpreter.
 *
 * <p>It warms on the runner's own memory: a few rows of the real (mapped) weight tensors and two
 * blocks of the real KV pool, never on stand-in segments. C2 compiles memory-segment access for the
 * segment kinds it has seen; warming on a confined-arena or heap segment and then serving from a
 * file mapping left the hot kernels compiled for two kinds, and measured 1.6x slower on the mapped
 * weights (Q8_0 matrix-vector 19.8 vs 31.3 GFLOP/s on one core, docs/PERFORMANCE.md).
 */
public final class WarmUp {

  private static final Set<GgmlType> DONE = EnumSet.noneOf(GgmlType.class);
  private static boolean othersDone;
  private static final int COLS = 256;
  private static final int ROWS = 16;

  private WarmUp() {}

  /**
   * Warms the matrix kernels for each weight type among {@code weights} (on the first tensor of
   * that type) and the attention and element-wise kernels (on {@code pool}, whose first two blocks
   * it overwrites: call it before the pool holds anything); returns quickly if done.
   */
  public static synchronized void run(Collection<Tensor> weights, KvBlockPool pool) {
    float[] x = new float[8 * COLS];
    float[] out = new float[8 * ROWS];
    float[] scratch = new float[Kernels.scratchFloats(COLS)];
    for (Tensor t : weights) {
      if (DONE.contains(t.type())) {
        continue;
      }
      // The same segment, read as a small matrix: its first rows' bytes are valid blocks.
      int cols = Math.min(COLS, t.cols());
      long rowBytes = t.type().bytesFor(cols);
      int rows = (int) Math.min(ROWS, t.data().byteSize() / rowBytes);
      Tensor w = new Tensor("warm-up", t.data(), t.type(), rows, cols);
      for (int i = 0; i < 4000; i++) {
        Kernels.gemm(w, x, cols, 1, out, ROWS, 0, rows, scratch);
        Kernels.gemm(w, x, cols, 1 + (i & 7), out, ROWS, 0, rows - (i & 1), scratch);
      }
      DONE.add(t.type());
    }
    if (!othersDone && pool.numBlocks() >= 2) {
      warmOthers(x, pool);
      othersDone = true;
    }
  }

  private static void warmOthers(float[] x, KvBlockPool pool) {
    int hd = pool.headDim();
    float[] w = new float[COLS];
    float[] y = new float[Math.max(COLS, 4 * hd)];
    float[] kv = new float[pool.kvHeads() * hd];
    float[] scores = new float[4 * 32];
    float[] tmp = new float[pool.blockSize() * hd];
    float[] q = new float[4 * hd];
    int[] table = {0, 1};
    int maxLen = Math.min(32, 2 * pool.blockSize());
    for (int i = 0; i < 3000; i++) {
      Attention.store(pool, 0, i & 1, i % pool.blockSize(), kv, 0, kv, 0);
      int len = 1 + i % maxLen;
      if (Kernels.VECTOR) {
        Attention.attendVector(pool, 0, table, 0, len, 1 + (i & 3), q, 0, 0.1f, y, 0, scores, tmp);
      } else {
        Attention.attendScalar(pool, 0, table, 0, len, q, 0, 0.1f, y, 0, scores);
      }
    }
    for (int i = 0; i < 5000; i++) {
      Kernels.rmsNorm(y, 0, x, 0, w, COLS, 1e-5f);
      Kernels.siluMul(y, 0, x, 0, COLS);
      Kernels.softmax(y, 0, COLS);
      Kernels.add(y, 0, x, 0, COLS);
    }
  }
}
