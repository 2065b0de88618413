package dev.baton.engine.kernel;

import dev.baton.engine.KvBlockPool;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Attention over the paged KV cache: K and V of one (layer, kv head) live in per-block runs of
 * {@code (slot, head_dim)} (docs/KV_LAYOUT.md); a sequence's positions are found through its block
 * table. Both a vector path and its scalar twin are here.
 */
public final class Attention {

  private Attention() {}

  /** Writes one token's K and V rows {@code (kv_heads * head_dim)} into {@code (block, slot)}. */
  public static void store(
      KvBlockPool pool, int layer, int block, int slot, float[] k, int ko, float[] v, int vo) {
    int hd = pool.headDim();
    MemorySegment mem = pool.memory();
    for (int g = 0; g < pool.kvHeads(); g++) {
      long kOff = pool.runOffset(block, layer, 0, g) + (long) slot * hd * pool.dtype().bytes;
      long vOff = pool.runOffset(block, layer, 1, g) + (long) slot * hd * pool.dtype().bytes;
      if (pool.dtype() == KvBlockPool.Dtype.F32) {
        MemorySegment.copy(k, ko + g * hd, mem, ScalarKernels.F32_LE, kOff, hd);
        MemorySegment.copy(v, vo + g * hd, mem, ScalarKernels.F32_LE, vOff, hd);
      } else {
        for (int i = 0; i < hd; i++) {
          mem.set(ScalarKernels.I16_LE, kOff + 2L * i, Float.floatToFloat16(k[ko + g * hd + i]));
          mem.set(ScalarKernels.I16_LE, vOff + 2L * i, Float.floatToFloat16(v[vo + g * hd + i]));
        }
      }
    }
  }

  private static float load(MemorySegment mem, KvBlockPool.Dtype dtype, long off, int i) {
    return dtype == KvBlockPool.Dtype.F32
        ? mem.get(ScalarKernels.F32_LE, off + 4L * i)
        : Float.float16ToFloat(mem.get(ScalarKernels.I16_LE, off + 2L * i));
  }

  /**
   * Scalar twin of {@link #attendVector}: {@code out[oo..oo+headDim) = sum_j softmax_j(q . K_j *
   * scale) V_j} over positions {@code 0 <= j < n} of kv head {@code g}. {@code scores} has room for
   * {@code n} floats.
   */
  public static void attendScalar(
      KvBlockPool pool,
      int layer,
      int[] blockTable,
      int g,
      int n,
      float[] q,
      int qo,
      float scale,
      float[] out,
      int oo,
      float[] scores) {
    int hd = pool.headDim();
    int bs = pool.blockSize();
    MemorySegment mem = pool.memory();
    KvBlockPool.Dtype dt = pool.dtype();
    for (int j = 0; j < n; j++) {
      long off = pool.runOffset(blockTable[j / bs], layer, 0, g) + (long) (j % bs) * hd * dt.bytes;
      float s = 0;
      for (int i = 0; i < hd; i++) {
        s += q[qo + i] * load(mem, dt, off, i);
      }
      scores[j] = s * scale;
    }
    ScalarKernels.softmax(scores, 0, n);
    for (int i = 0; i < hd; i++) {
      out[oo + i] = 0;
    }
    for (int j = 0; j < n; j++) {
      long off = pool.runOffset(blockTable[j / bs], layer, 1, g) + (long) (j % bs) * hd * dt.bytes;
      for (int i = 0; i < hd; i++) {
        out[oo + i] += scores[j] * load(mem, dt, off, i);
      }
    }
  }

  /**
   * Vector version of {@link #attendScalar}. {@code tmp} holds one block run ({@code blockSize *
   * headDim} floats) for F16 caches.
   */
  public static void attendVector(
      KvBlockPool pool,
      int layer,
      int[] blockTable,
      int g,
      int n,
      float[] q,
      int qo,
      float scale,
      float[] out,
      int oo,
      float[] scores,
      float[] tmp) {
    int hd = pool.headDim();
    int lanes = VectorKernels.L;
    if (hd % lanes != 0) {
      attendScalar(pool, layer, blockTable, g, n, q, qo, scale, out, oo, scores);
      return;
    }
    int bs = pool.blockSize();
    MemorySegment mem = pool.memory();
    boolean f32 = pool.dtype() == KvBlockPool.Dtype.F32;
    for (int j0 = 0; j0 < n; j0 += bs) {
      int cnt = Math.min(bs, n - j0);
      long run = pool.runOffset(blockTable[j0 / bs], layer, 0, g);
      if (f32) {
        for (int j = 0; j < cnt; j++) {
          long off = run + 4L * j * hd;
          FloatVector acc = FloatVector.zero(VectorKernels.F);
          for (int i = 0; i < hd; i += lanes) {
            acc =
                FloatVector.fromMemorySegment(VectorKernels.F, mem, off + 4L * i, VectorKernels.LE)
                    .fma(FloatVector.fromArray(VectorKernels.F, q, qo + i), acc);
          }
          scores[j0 + j] = acc.reduceLanes(VectorOperators.ADD) * scale;
        }
      } else {
        toFloats(mem, run, tmp, cnt * hd);
        for (int j = 0; j < cnt; j++) {
          scores[j0 + j] = VectorKernels.dot(tmp, j * hd, q, qo, hd) * scale;
        }
      }
    }
    VectorKernels.softmax(scores, 0, n);
    java.util.Arrays.fill(out, oo, oo + hd, 0f);
    for (int j0 = 0; j0 < n; j0 += bs) {
      int cnt = Math.min(bs, n - j0);
      long run = pool.runOffset(blockTable[j0 / bs], layer, 1, g);
      if (f32) {
        for (int i = 0; i < hd; i += lanes) {
          FloatVector acc = FloatVector.fromArray(VectorKernels.F, out, oo + i);
          for (int j = 0; j < cnt; j++) {
            acc =
                FloatVector.fromMemorySegment(
                        VectorKernels.F, mem, run + 4L * (j * hd + i), VectorKernels.LE)
                    .fma(FloatVector.broadcast(VectorKernels.F, scores[j0 + j]), acc);
          }
          acc.intoArray(out, oo + i);
        }
      } else {
        toFloats(mem, run, tmp, cnt * hd);
        for (int j = 0; j < cnt; j++) {
          VectorKernels.axpy(out, oo, tmp, j * hd, scores[j0 + j], hd);
        }
      }
    }
  }

  private static void toFloats(MemorySegment mem, long off, float[] dst, int count) {
    for (int i = 0; i < count; i++) {
      dst[i] = Float.float16ToFloat(mem.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 2L * i));
    }
  }
}
