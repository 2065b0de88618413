package dev.baton.engine.kernel;

import dev.baton.engine.KvBlockPool;
import dev.baton.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.Set;

/**
 * Gets the kernels compiled before the first real step. Vector API code runs orders of magnitude
 * slower until C2 compiles it (the interpreter boxes every vector), so without this the first
 * prompt of a process would crawl through a gigabyte of weights in the interpreter. Runs each
 * kernel on small zero-filled inputs until it is hot; once per JVM and weight type.
 */
public final class WarmUp {

  private static final Set<GgmlType> DONE = EnumSet.noneOf(GgmlType.class);
  private static final int COLS = 256;
  private static final int ROWS = 16;

  private WarmUp() {}

  /** Warms the matrix kernels of {@code types} and the other kernels; returns quickly if done. */
  public static synchronized void run(Set<GgmlType> types) {
    Set<GgmlType> todo = EnumSet.noneOf(GgmlType.class);
    todo.addAll(types);
    todo.removeAll(DONE);
    if (todo.isEmpty()) {
      return;
    }
    boolean first = DONE.isEmpty();
    try (Arena arena = Arena.ofConfined()) {
      float[] x = new float[8 * COLS];
      float[] out = new float[8 * ROWS];
      float[] scratch = new float[Kernels.scratchFloats(COLS)];
      for (GgmlType type : todo) {
        MemorySegment data = arena.allocate(ROWS * type.bytesFor(COLS), 64);
        Tensor w = new Tensor("warm-up", data, type, ROWS, COLS);
        for (int i = 0; i < 4000; i++) {
          Kernels.gemm(w, x, COLS, 1, out, ROWS, 0, ROWS, scratch);
          Kernels.gemm(w, x, COLS, 1 + (i & 7), out, ROWS, 0, ROWS - (i & 1), scratch);
        }
      }
      if (first) {
        warmOthers(x);
      }
    }
    DONE.addAll(todo);
  }

  private static void warmOthers(float[] x) {
    float[] w = new float[COLS];
    float[] y = new float[COLS];
    for (KvBlockPool.Dtype dtype : KvBlockPool.Dtype.values()) {
      try (KvBlockPool pool = new KvBlockPool(2, 16, 1, 1, 64, dtype)) {
        float[] kv = new float[64];
        float[] scores = new float[4 * 32];
        float[] tmp = new float[16 * 64];
        int[] table = {0, 1};
        for (int i = 0; i < 3000; i++) {
          Attention.store(pool, 0, i & 1, i & 15, kv, 0, kv, 0);
          if (Kernels.VECTOR) {
            Attention.attendVector(
                pool, 0, table, 0, 1 + (i & 31), 1 + (i & 3), x, 0, 0.1f, y, 0, scores, tmp);
          } else {
            Attention.attendScalar(pool, 0, table, 0, 1 + (i & 31), x, 0, 0.1f, y, 0, scores);
          }
        }
      }
    }
    for (int i = 0; i < 5000; i++) {
      Kernels.rmsNorm(y, 0, x, 0, w, COLS, 1e-5f);
      Kernels.siluMul(y, 0, x, 0, COLS);
      Kernels.softmax(y, 0, COLS);
      Kernels.add(y, 0, x, 0, COLS);
      Kernels.dequantizeRow(
          new Tensor("t", MemorySegment.ofArray(new byte[COLS * 4]), GgmlType.F32, 1, COLS),
          0,
          y,
          0);
    }
  }
}
