package dev.baton.engine.kernel;

import dev.baton.engine.KvBlockPool;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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
   * Vector version of {@link #attendScalar} for the {@code heads} query heads that share kv head
   * {@code g} (grouped-query attention): head {@code h}'s query is at {@code qo + h * headDim} and
   * its output goes to {@code oo + h * headDim}. Each block run of K and V is read once for the
   * whole group (copied into {@code tmp}, converted from F16 where needed) instead of once per
   * head, and up to four heads are computed together so that their multiply-add chains overlap.
   * {@code scores} has room for {@code heads * n} floats; {@code tmp} for one block run ({@code
   * blockSize * headDim} floats).
   */
  public static void attendVector(
      KvBlockPool pool,
      int layer,
      int[] blockTable,
      int g,
      int n,
      int heads,
      float[] q,
      int qo,
      float scale,
      float[] out,
      int oo,
      float[] scores,
      float[] tmp) {
    int hd = pool.headDim();
    if (hd % VectorKernels.L != 0) {
      for (int h = 0; h < heads; h++) {
        attendScalar(
            pool, layer, blockTable, g, n, q, qo + h * hd, scale, out, oo + h * hd, scores);
      }
      return;
    }
    int bs = pool.blockSize();
    for (int j0 = 0; j0 < n; j0 += bs) {
      int cnt = Math.min(bs, n - j0);
      loadRun(pool, pool.runOffset(blockTable[j0 / bs], layer, 0, g), tmp, cnt * hd);
      int h = 0;
      for (; h + 4 <= heads; h += 4) {
        scores4(tmp, cnt, hd, q, qo + h * hd, scale, scores, h * n + j0, n);
      }
      for (; h < heads; h++) {
        for (int j = 0; j < cnt; j++) {
          scores[h * n + j0 + j] = VectorKernels.dot(tmp, j * hd, q, qo + h * hd, hd) * scale;
        }
      }
    }
    for (int h = 0; h < heads; h++) {
      VectorKernels.softmax(scores, h * n, n);
      java.util.Arrays.fill(out, oo + h * hd, oo + (h + 1) * hd, 0f);
    }
    for (int j0 = 0; j0 < n; j0 += bs) {
      int cnt = Math.min(bs, n - j0);
      loadRun(pool, pool.runOffset(blockTable[j0 / bs], layer, 1, g), tmp, cnt * hd);
      int h = 0;
      for (; h + 4 <= heads; h += 4) {
        weightedSum4(tmp, cnt, hd, scores, h * n + j0, n, out, oo + h * hd);
      }
      for (; h < heads; h++) {
        for (int j = 0; j < cnt; j++) {
          VectorKernels.axpy(out, oo + h * hd, tmp, j * hd, scores[h * n + j0 + j], hd);
        }
      }
    }
  }

  /** Scores of positions {@code 0..cnt} of a run for 4 heads (queries {@code hd} apart). */
  private static void scores4(
      float[] run, int cnt, int hd, float[] q, int qo, float scale, float[] sc, int so, int n) {
    VectorSpecies<Float> f = VectorKernels.F;
    int q1 = qo + hd, q2 = q1 + hd, q3 = q2 + hd;
    for (int j = 0; j < cnt; j++) {
      FloatVector a0 = FloatVector.zero(f), a1 = a0, a2 = a0, a3 = a0;
      int ko = j * hd;
      for (int i = 0; i < hd; i += VectorKernels.L) {
        FloatVector k = FloatVector.fromArray(f, run, ko + i);
        a0 = k.fma(FloatVector.fromArray(f, q, qo + i), a0);
        a1 = k.fma(FloatVector.fromArray(f, q, q1 + i), a1);
        a2 = k.fma(FloatVector.fromArray(f, q, q2 + i), a2);
        a3 = k.fma(FloatVector.fromArray(f, q, q3 + i), a3);
      }
      sc[so + j] = a0.reduceLanes(VectorOperators.ADD) * scale;
      sc[so + n + j] = a1.reduceLanes(VectorOperators.ADD) * scale;
      sc[so + 2 * n + j] = a2.reduceLanes(VectorOperators.ADD) * scale;
      sc[so + 3 * n + j] = a3.reduceLanes(VectorOperators.ADD) * scale;
    }
  }

  /** Adds {@code sum_j p_hj V_j} over a run's {@code cnt} positions into 4 heads' outputs. */
  private static void weightedSum4(
      float[] run, int cnt, int hd, float[] p, int po, int n, float[] out, int oo) {
    VectorSpecies<Float> f = VectorKernels.F;
    int o1 = oo + hd, o2 = o1 + hd, o3 = o2 + hd;
    for (int i = 0; i < hd; i += VectorKernels.L) {
      FloatVector a0 = FloatVector.fromArray(f, out, oo + i);
      FloatVector a1 = FloatVector.fromArray(f, out, o1 + i);
      FloatVector a2 = FloatVector.fromArray(f, out, o2 + i);
      FloatVector a3 = FloatVector.fromArray(f, out, o3 + i);
      for (int j = 0; j < cnt; j++) {
        FloatVector v = FloatVector.fromArray(f, run, j * hd + i);
        a0 = v.fma(FloatVector.broadcast(f, p[po + j]), a0);
        a1 = v.fma(FloatVector.broadcast(f, p[po + n + j]), a1);
        a2 = v.fma(FloatVector.broadcast(f, p[po + 2 * n + j]), a2);
        a3 = v.fma(FloatVector.broadcast(f, p[po + 3 * n + j]), a3);
      }
      a0.intoArray(out, oo + i);
      a1.intoArray(out, o1 + i);
      a2.intoArray(out, o2 + i);
      a3.intoArray(out, o3 + i);
    }
  }

  /** Copies {@code count} K or V values of one block run into {@code dst} as floats. */
  private static void loadRun(KvBlockPool pool, long off, float[] dst, int count) {
    MemorySegment mem = pool.memory();
    if (pool.dtype() == KvBlockPool.Dtype.F32) {
      MemorySegment.copy(mem, ScalarKernels.F32_LE, off, dst, 0, count);
    } else {
      toFloats(mem, off, dst, count);
    }
  }

  private static void toFloats(MemorySegment mem, long off, float[] dst, int count) {
    for (int i = 0; i < count; i++) {
      dst[i] = Float.float16ToFloat(mem.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 2L * i));
    }
  }
}
