package dev.baton.engine.kernel;

import dev.baton.model.GgmlType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels (one per {@link ScalarKernels} method, tested against it). Matrix-vector
 * products on Q8_0, Q4_0 and F32 weights read the weights straight from the mapped file and convert
 * them in registers; matrix-matrix products dequantize a block of rows once into a float scratch
 * that stays in L2 and reuse it for every token of the batch (a 4 rows x 4 tokens register tile),
 * so a prefill chunk or a batch of decode steps reads each weight from memory once.
 */
public final class VectorKernels {

  static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
  static final int L = F.length();
  static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
  static final VectorSpecies<Short> S =
      VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
  static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
  static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  /** Batches up to this many tokens take the fused Q8_0 path ({@link #gemmQ8Fused}). */
  static final int FUSED_MAX_TOKENS = 4;

  /** Floats of dequantized weights one GEMM row block may hold (256 KiB: half of L2). */
  static final int SCRATCH_BUDGET = 64 * 1024;

  private VectorKernels() {}

  /** True when these kernels can run here (lanes that divide a 32-element quant block). */
  static boolean usable() {
    return L >= 4 && L <= 16 && I.length() == L;
  }

  /** Scratch floats {@link #gemm} needs for matrices of up to {@code maxCols} columns. */
  public static int scratchFloats(int maxCols) {
    return Math.max(SCRATCH_BUDGET, 4 * maxCols);
  }

  private static FloatVector i8(MemorySegment s, long off) {
    return (FloatVector)
        ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2F, F, 0);
  }

  private static FloatVector toFloat(ByteVector v) {
    return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
  }

  // ---------------------------------------------------------------- dequantization

  /** Vector twin of {@link ScalarKernels#dequantizeRow}. */
  public static void dequantizeRow(Tensor w, int row, float[] out, int off) {
    MemorySegment s = w.data();
    long base = row * w.rowBytes();
    int cols = w.cols();
    switch (w.type()) {
      case F32 -> {
        for (int i = 0; i < cols; i += L) {
          FloatVector.fromMemorySegment(F, s, base + 4L * i, LE).intoArray(out, off + i);
        }
      }
      case F16 -> {
        for (int i = 0; i < cols; i++) {
          out[off + i] = Float.float16ToFloat(s.get(ScalarKernels.I16_LE, base + 2L * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < cols; i += L) {
          ShortVector.fromMemorySegment(S, s, base + 2L * i, LE)
              .convertShape(VectorOperators.S2I, I, 0)
              .reinterpretAsInts()
              .lanewise(VectorOperators.LSHL, 16)
              .reinterpretAsFloats()
              .intoArray(out, off + i);
        }
      }
      case Q8_0 -> {
        for (int b = 0; b < cols / 32; b++) {
          long blk = base + 34L * b;
          float d = ScalarKernels.f16(s, blk);
          for (int h = 0; h < 32; h += L) {
            i8(s, blk + 2 + h).mul(d).intoArray(out, off + 32 * b + h);
          }
        }
      }
      case Q4_0 -> {
        for (int b = 0; b < cols / 32; b++) {
          long blk = base + 18L * b;
          float d = ScalarKernels.f16(s, blk);
          for (int h = 0; h < 16; h += L) {
            ByteVector q = ByteVector.fromMemorySegment(B, s, blk + 2 + h, LE);
            toFloat(q.and((byte) 0xF).sub((byte) 8)).mul(d).intoArray(out, off + 32 * b + h);
            toFloat(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8))
                .mul(d)
                .intoArray(out, off + 32 * b + 16 + h);
          }
        }
      }
      case Q4_K -> {
        for (int b = 0; b < cols / 256; b++) {
          dequantizeQ4K(s, base + 144L * b, out, off + 256 * b);
        }
      }
      case Q6_K -> {
        for (int b = 0; b < cols / 256; b++) {
          dequantizeQ6K(s, base + 210L * b, out, off + 256 * b);
        }
      }
    }
  }

  private static void dequantizeQ4K(MemorySegment s, long blk, float[] out, int off) {
    float d = ScalarKernels.f16(s, blk);
    float dmin = ScalarKernels.f16(s, blk + 2);
    long scales = blk + 4;
    long qs = blk + 16;
    for (int j = 0; j < 4; j++) {
      float s1 = d * ScalarKernels.q4kScale(s, scales, 2 * j);
      float m1 = -dmin * ScalarKernels.q4kMin(s, scales, 2 * j);
      float s2 = d * ScalarKernels.q4kScale(s, scales, 2 * j + 1);
      float m2 = -dmin * ScalarKernels.q4kMin(s, scales, 2 * j + 1);
      for (int h = 0; h < 32; h += L) {
        ByteVector q = ByteVector.fromMemorySegment(B, s, qs + 32L * j + h, LE);
        toFloat(q.and((byte) 0xF)).mul(s1).add(m1).intoArray(out, off + 64 * j + h);
        toFloat(q.lanewise(VectorOperators.LSHR, 4))
            .mul(s2)
            .add(m2)
            .intoArray(out, off + 64 * j + 32 + h);
      }
    }
  }

  private static void dequantizeQ6K(MemorySegment s, long blk, float[] out, int off) {
    float d = ScalarKernels.f16(s, blk + 208);
    for (int half = 0; half < 2; half++) {
      long ql = blk + 64L * half;
      long qh = blk + 128 + 32L * half;
      long sc = blk + 192 + 8L * half;
      int y = off + 128 * half;
      for (int l = 0; l < 32; l += L) {
        int is = l / 16;
        ByteVector qa = ByteVector.fromMemorySegment(B, s, ql + l, LE);
        ByteVector qb = ByteVector.fromMemorySegment(B, s, ql + l + 32, LE);
        ByteVector h = ByteVector.fromMemorySegment(B, s, qh + l, LE);
        ByteVector q1 = qa.and((byte) 0xF).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4));
        ByteVector q2 =
            qb.and((byte) 0xF)
                .or(
                    h.lanewise(VectorOperators.LSHR, 2)
                        .and((byte) 3)
                        .lanewise(VectorOperators.LSHL, 4));
        ByteVector q3 =
            qa.lanewise(VectorOperators.LSHR, 4)
                .or(
                    h.lanewise(VectorOperators.LSHR, 4)
                        .and((byte) 3)
                        .lanewise(VectorOperators.LSHL, 4));
        ByteVector q4 =
            qb.lanewise(VectorOperators.LSHR, 4)
                .or(
                    h.lanewise(VectorOperators.LSHR, 6)
                        .and((byte) 3)
                        .lanewise(VectorOperators.LSHL, 4));
        toFloat(q1.sub((byte) 32)).mul(d * ScalarKernels.i8(s, sc + is)).intoArray(out, y + l);
        toFloat(q2.sub((byte) 32))
            .mul(d * ScalarKernels.i8(s, sc + is + 2))
            .intoArray(out, y + l + 32);
        toFloat(q3.sub((byte) 32))
            .mul(d * ScalarKernels.i8(s, sc + is + 4))
            .intoArray(out, y + l + 64);
        toFloat(q4.sub((byte) 32))
            .mul(d * ScalarKernels.i8(s, sc + is + 6))
            .intoArray(out, y + l + 96);
      }
    }
  }

  // ---------------------------------------------------------------- matrix products

  /** Vector twin of {@link ScalarKernels#gemm}; {@code scratch} has {@link #scratchFloats}. */
  public static void gemm(
      Tensor w,
      float[] x,
      int xStride,
      int n,
      float[] out,
      int outStride,
      int r0,
      int r1,
      float[] scratch) {
    int cols = w.cols();
    if (cols % L != 0) {
      ScalarKernels.gemm(w, x, xStride, n, out, outStride, r0, r1, scratch);
      return;
    }
    if (n == 1) {
      switch (w.type()) {
        case Q8_0 -> gemvQ8(w, x, 0, out, 0, r0, r1);
        case Q4_0 -> gemvQ4(w, x, 0, out, 0, r0, r1);
        case F32 -> gemvF32(w, x, 0, out, 0, r0, r1);
        default -> {
          for (int r = r0; r < r1; r++) {
            dequantizeRow(w, r, scratch, 0);
            out[r] = dot(scratch, 0, x, 0, cols);
          }
        }
      }
      return;
    }
    if (n <= FUSED_MAX_TOKENS && w.type() == GgmlType.Q8_0 && L == 16) {
      gemmQ8Fused(w, x, xStride, n, out, outStride, r0, r1);
      return;
    }
    int blockRows = Math.max(4, (SCRATCH_BUDGET / cols) & ~3);
    for (int rb = r0; rb < r1; rb += blockRows) {
      int rows = Math.min(blockRows, r1 - rb);
      for (int i = 0; i < rows; i++) {
        dequantizeRow(w, rb + i, scratch, i * cols);
      }
      int t = 0;
      for (; t + 4 <= n; t += 4) {
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
          tile4x4(
              scratch,
              i * cols,
              cols,
              x,
              t * xStride,
              xStride,
              out,
              t * outStride + rb + i,
              outStride);
        }
        for (; i < rows; i++) {
          for (int tt = t; tt < t + 4; tt++) {
            out[tt * outStride + rb + i] = dotInOrder(scratch, i * cols, x, tt * xStride, cols);
          }
        }
      }
      for (; t < n; t++) {
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
          tile4x1(scratch, i * cols, cols, x, t * xStride, out, t * outStride + rb + i);
        }
        for (; i < rows; i++) {
          out[t * outStride + rb + i] = dotInOrder(scratch, i * cols, x, t * xStride, cols);
        }
      }
    }
  }

  /**
   * Q8_0 times 2 to 4 tokens without the float scratch: each block is widened and scaled once in
   * registers and multiplied into every token. Below 8 tokens, dequantizing to the scratch costs
   * about as much as the products themselves (one core, 8192 x 2048: 4 tokens 39 GFLOP/s fused vs
   * 34 through the scratch; 8 tokens 43 vs 50, so the scratch path keeps larger batches). The
   * products are added in the scratch path's order (low then high half of each block, scaled
   * weights); results agree to rounding, not always bit for bit (see KernelTwinsTest).
   */
  private static void gemmQ8Fused(
      Tensor w, float[] x, int xStride, int n, float[] out, int outStride, int r0, int r1) {
    MemorySegment s = w.data();
    long rowBytes = w.rowBytes();
    int blocks = w.cols() / 32;
    boolean has2 = n > 2, has3 = n > 3;
    int x1 = xStride, x2 = has2 ? 2 * xStride : 0, x3 = has3 ? 3 * xStride : 0;
    for (int r = r0; r < r1; r++) {
      long p = r * rowBytes;
      FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
      for (int b = 0; b < blocks; b++) {
        long o = p + 34L * b;
        ByteVector q = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, s, o + 2, LE);
        FloatVector d = FloatVector.broadcast(F, ScalarKernels.f16(s, o));
        FloatVector lo = ((FloatVector) q.castShape(F, 0)).mul(d);
        FloatVector hi = ((FloatVector) q.castShape(F, 1)).mul(d);
        int k = 32 * b;
        a0 =
            hi.fma(FloatVector.fromArray(F, x, k + 16), lo.fma(FloatVector.fromArray(F, x, k), a0));
        a1 =
            hi.fma(
                FloatVector.fromArray(F, x, x1 + k + 16),
                lo.fma(FloatVector.fromArray(F, x, x1 + k), a1));
        // Tokens 3 and 4 are computed when absent too (from token 1's input): a branch here
        // would cost more than the two wasted multiply-adds.
        a2 =
            hi.fma(
                FloatVector.fromArray(F, x, x2 + k + 16),
                lo.fma(FloatVector.fromArray(F, x, x2 + k), a2));
        a3 =
            hi.fma(
                FloatVector.fromArray(F, x, x3 + k + 16),
                lo.fma(FloatVector.fromArray(F, x, x3 + k), a3));
      }
      out[r] = a0.reduceLanes(VectorOperators.ADD);
      out[outStride + r] = a1.reduceLanes(VectorOperators.ADD);
      if (has2) {
        out[2 * outStride + r] = a2.reduceLanes(VectorOperators.ADD);
      }
      if (has3) {
        out[3 * outStride + r] = a3.reduceLanes(VectorOperators.ADD);
      }
    }
  }

  /**
   * One row times one token with a single accumulator, adding in the tiles' order, for the rows
   * left over after the 4-row tiles.
   */
  private static float dotInOrder(float[] a, int ao, float[] b, int bo, int len) {
    FloatVector acc = FloatVector.zero(F);
    for (int k = 0; k < len; k += L) {
      acc = FloatVector.fromArray(F, a, ao + k).fma(FloatVector.fromArray(F, b, bo + k), acc);
    }
    return acc.reduceLanes(VectorOperators.ADD);
  }

  /** 4 rows of {@code w} (row stride {@code cols}) times 4 tokens of {@code x}. */
  private static void tile4x4(
      float[] w,
      int wo,
      int cols,
      float[] x,
      int xo,
      int xStride,
      float[] out,
      int oo,
      int oStride) {
    FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
    FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    int w1 = wo + cols, w2 = w1 + cols, w3 = w2 + cols;
    int x1 = xo + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
    for (int k = 0; k < cols; k += L) {
      FloatVector v0 = FloatVector.fromArray(F, x, xo + k);
      FloatVector v1 = FloatVector.fromArray(F, x, x1 + k);
      FloatVector v2 = FloatVector.fromArray(F, x, x2 + k);
      FloatVector v3 = FloatVector.fromArray(F, x, x3 + k);
      FloatVector r = FloatVector.fromArray(F, w, wo + k);
      a00 = r.fma(v0, a00);
      a01 = r.fma(v1, a01);
      a02 = r.fma(v2, a02);
      a03 = r.fma(v3, a03);
      r = FloatVector.fromArray(F, w, w1 + k);
      a10 = r.fma(v0, a10);
      a11 = r.fma(v1, a11);
      a12 = r.fma(v2, a12);
      a13 = r.fma(v3, a13);
      r = FloatVector.fromArray(F, w, w2 + k);
      a20 = r.fma(v0, a20);
      a21 = r.fma(v1, a21);
      a22 = r.fma(v2, a22);
      a23 = r.fma(v3, a23);
      r = FloatVector.fromArray(F, w, w3 + k);
      a30 = r.fma(v0, a30);
      a31 = r.fma(v1, a31);
      a32 = r.fma(v2, a32);
      a33 = r.fma(v3, a33);
    }
    int o1 = oo + oStride, o2 = o1 + oStride, o3 = o2 + oStride;
    out[oo] = a00.reduceLanes(VectorOperators.ADD);
    out[oo + 1] = a10.reduceLanes(VectorOperators.ADD);
    out[oo + 2] = a20.reduceLanes(VectorOperators.ADD);
    out[oo + 3] = a30.reduceLanes(VectorOperators.ADD);
    out[o1] = a01.reduceLanes(VectorOperators.ADD);
    out[o1 + 1] = a11.reduceLanes(VectorOperators.ADD);
    out[o1 + 2] = a21.reduceLanes(VectorOperators.ADD);
    out[o1 + 3] = a31.reduceLanes(VectorOperators.ADD);
    out[o2] = a02.reduceLanes(VectorOperators.ADD);
    out[o2 + 1] = a12.reduceLanes(VectorOperators.ADD);
    out[o2 + 2] = a22.reduceLanes(VectorOperators.ADD);
    out[o2 + 3] = a32.reduceLanes(VectorOperators.ADD);
    out[o3] = a03.reduceLanes(VectorOperators.ADD);
    out[o3 + 1] = a13.reduceLanes(VectorOperators.ADD);
    out[o3 + 2] = a23.reduceLanes(VectorOperators.ADD);
    out[o3 + 3] = a33.reduceLanes(VectorOperators.ADD);
  }

  /** 4 rows of {@code w} times one token of {@code x}. */
  private static void tile4x1(float[] w, int wo, int cols, float[] x, int xo, float[] out, int oo) {
    FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
    int w1 = wo + cols, w2 = w1 + cols, w3 = w2 + cols;
    for (int k = 0; k < cols; k += L) {
      FloatVector v = FloatVector.fromArray(F, x, xo + k);
      a0 = FloatVector.fromArray(F, w, wo + k).fma(v, a0);
      a1 = FloatVector.fromArray(F, w, w1 + k).fma(v, a1);
      a2 = FloatVector.fromArray(F, w, w2 + k).fma(v, a2);
      a3 = FloatVector.fromArray(F, w, w3 + k).fma(v, a3);
    }
    out[oo] = a0.reduceLanes(VectorOperators.ADD);
    out[oo + 1] = a1.reduceLanes(VectorOperators.ADD);
    out[oo + 2] = a2.reduceLanes(VectorOperators.ADD);
    out[oo + 3] = a3.reduceLanes(VectorOperators.ADD);
  }

  /**
   * Q8_0 matrix-vector, one row at a time: one 32-byte load per block, widened to two float
   * vectors. Measured (CPU time, one core) against 2- and 4-row variants that share the x loads:
   * this simplest loop is the fastest in C2's hands (15.5 vs 7-9 GB/s), so it stays simple.
   */
  static void gemvQ8(Tensor w, float[] x, int xo, float[] out, int oo, int r0, int r1) {
    if (L != 16) {
      gemvQ8Generic(w, x, xo, out, oo, r0, r1);
      return;
    }
    MemorySegment s = w.data();
    long rowBytes = w.rowBytes();
    int blocks = w.cols() / 32;
    for (int r = r0; r < r1; r++) {
      long p = r * rowBytes;
      FloatVector a = FloatVector.zero(F);
      for (int b = 0; b < blocks; b++) {
        long o = p + 34L * b;
        ByteVector q = ByteVector.fromMemorySegment(ByteVector.SPECIES_256, s, o + 2, LE);
        FloatVector lo = FloatVector.fromArray(F, x, xo + 32 * b).mul(q.castShape(F, 0));
        FloatVector hi = FloatVector.fromArray(F, x, xo + 32 * b + 16).mul(q.castShape(F, 1));
        a = lo.add(hi).fma(FloatVector.broadcast(F, ScalarKernels.f16(s, o)), a);
      }
      out[oo + r] = a.reduceLanes(VectorOperators.ADD);
    }
  }

  private static void gemvQ8Generic(
      Tensor w, float[] x, int xo, float[] out, int oo, int r0, int r1) {
    MemorySegment s = w.data();
    long rowBytes = w.rowBytes();
    int blocks = w.cols() / 32;
    for (int r = r0; r < r1; r++) {
      long p = r * rowBytes;
      FloatVector a = FloatVector.zero(F);
      for (int b = 0; b < blocks; b++) {
        long o = p + 34L * b;
        FloatVector sum = FloatVector.zero(F);
        for (int h = 0; h < 32; h += L) {
          sum = i8(s, o + 2 + h).fma(FloatVector.fromArray(F, x, xo + 32 * b + h), sum);
        }
        a = sum.fma(FloatVector.broadcast(F, ScalarKernels.f16(s, o)), a);
      }
      out[oo + r] = a.reduceLanes(VectorOperators.ADD);
    }
  }

  /** Q4_0 matrix-vector, one row at a time. */
  static void gemvQ4(Tensor w, float[] x, int xo, float[] out, int oo, int r0, int r1) {
    MemorySegment s = w.data();
    long rowBytes = w.rowBytes();
    int blocks = w.cols() / 32;
    for (int r = r0; r < r1; r++) {
      long p = r * rowBytes;
      FloatVector a = FloatVector.zero(F);
      for (int b = 0; b < blocks; b++) {
        long o = p + 18L * b;
        int xi = xo + 32 * b;
        FloatVector sum = FloatVector.zero(F);
        for (int h = 0; h < 16; h += L) {
          ByteVector q = ByteVector.fromMemorySegment(B, s, o + 2 + h, LE);
          sum =
              toFloat(q.and((byte) 0xF).sub((byte) 8))
                  .fma(FloatVector.fromArray(F, x, xi + h), sum);
          sum =
              toFloat(q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8))
                  .fma(FloatVector.fromArray(F, x, xi + 16 + h), sum);
        }
        a = sum.fma(FloatVector.broadcast(F, ScalarKernels.f16(s, o)), a);
      }
      out[oo + r] = a.reduceLanes(VectorOperators.ADD);
    }
  }

  /** F32 matrix-vector, 4 rows at a time. */
  static void gemvF32(Tensor w, float[] x, int xo, float[] out, int oo, int r0, int r1) {
    MemorySegment s = w.data();
    long rowBytes = w.rowBytes();
    int cols = w.cols();
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
      long p0 = r * rowBytes, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
      for (int k = 0; k < cols; k += L) {
        FloatVector v = FloatVector.fromArray(F, x, xo + k);
        a0 = FloatVector.fromMemorySegment(F, s, p0 + 4L * k, LE).fma(v, a0);
        a1 = FloatVector.fromMemorySegment(F, s, p1 + 4L * k, LE).fma(v, a1);
        a2 = FloatVector.fromMemorySegment(F, s, p2 + 4L * k, LE).fma(v, a2);
        a3 = FloatVector.fromMemorySegment(F, s, p3 + 4L * k, LE).fma(v, a3);
      }
      out[oo + r] = a0.reduceLanes(VectorOperators.ADD);
      out[oo + r + 1] = a1.reduceLanes(VectorOperators.ADD);
      out[oo + r + 2] = a2.reduceLanes(VectorOperators.ADD);
      out[oo + r + 3] = a3.reduceLanes(VectorOperators.ADD);
    }
    for (; r < r1; r++) {
      long p = r * rowBytes;
      FloatVector a = FloatVector.zero(F);
      for (int k = 0; k < cols; k += L) {
        a =
            FloatVector.fromMemorySegment(F, s, p + 4L * k, LE)
                .fma(FloatVector.fromArray(F, x, xo + k), a);
      }
      out[oo + r] = a.reduceLanes(VectorOperators.ADD);
    }
  }

  // ---------------------------------------------------------------- element-wise

  public static float dot(float[] a, int ao, float[] b, int bo, int len) {
    int i = 0;
    FloatVector s0 = FloatVector.zero(F), s1 = s0;
    for (; i + 2 * L <= len; i += 2 * L) {
      s0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), s0);
      s1 = FloatVector.fromArray(F, a, ao + i + L).fma(FloatVector.fromArray(F, b, bo + i + L), s1);
    }
    for (; i + L <= len; i += L) {
      s0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), s0);
    }
    float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
    for (; i < len; i++) {
      sum += a[ao + i] * b[bo + i];
    }
    return sum;
  }

  public static void rmsNorm(
      float[] out, int oo, float[] x, int xo, float[] weight, int len, float eps) {
    int i = 0;
    FloatVector acc = FloatVector.zero(F);
    for (; i + L <= len; i += L) {
      FloatVector v = FloatVector.fromArray(F, x, xo + i);
      acc = v.fma(v, acc);
    }
    float ss = acc.reduceLanes(VectorOperators.ADD);
    for (; i < len; i++) {
      ss += x[xo + i] * x[xo + i];
    }
    float scale = (float) (1.0 / Math.sqrt(ss / len + eps));
    i = 0;
    for (; i + L <= len; i += L) {
      FloatVector.fromArray(F, x, xo + i)
          .mul(scale)
          .mul(FloatVector.fromArray(F, weight, i))
          .intoArray(out, oo + i);
    }
    for (; i < len; i++) {
      out[oo + i] = x[xo + i] * scale * weight[i];
    }
  }

  public static void siluMul(float[] gate, int go, float[] up, int uo, int len) {
    int i = 0;
    for (; i + L <= len; i += L) {
      FloatVector g = FloatVector.fromArray(F, gate, go + i);
      FloatVector e = g.neg().lanewise(VectorOperators.EXP).add(1f);
      g.div(e).mul(FloatVector.fromArray(F, up, uo + i)).intoArray(gate, go + i);
    }
    for (; i < len; i++) {
      float g = gate[go + i];
      gate[go + i] = g / (1f + (float) Math.exp(-g)) * up[uo + i];
    }
  }

  public static void axpy(float[] y, int yo, float[] x, int xo, float a, int len) {
    int i = 0;
    for (; i + L <= len; i += L) {
      FloatVector.fromArray(F, x, xo + i)
          .fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yo + i))
          .intoArray(y, yo + i);
    }
    for (; i < len; i++) {
      y[yo + i] += x[xo + i] * a;
    }
  }

  public static void add(float[] y, int yo, float[] x, int xo, int len) {
    int i = 0;
    for (; i + L <= len; i += L) {
      FloatVector.fromArray(F, y, yo + i)
          .add(FloatVector.fromArray(F, x, xo + i))
          .intoArray(y, yo + i);
    }
    for (; i < len; i++) {
      y[yo + i] += x[xo + i];
    }
  }

  public static void softmax(float[] x, int off, int len) {
    int i = 0;
    FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
    for (; i + L <= len; i += L) {
      mv = mv.max(FloatVector.fromArray(F, x, off + i));
    }
    float max = mv.reduceLanes(VectorOperators.MAX);
    for (; i < len; i++) {
      max = Math.max(max, x[off + i]);
    }
    FloatVector sv = FloatVector.zero(F);
    i = 0;
    for (; i + L <= len; i += L) {
      FloatVector e = FloatVector.fromArray(F, x, off + i).sub(max).lanewise(VectorOperators.EXP);
      e.intoArray(x, off + i);
      sv = sv.add(e);
    }
    float sum = sv.reduceLanes(VectorOperators.ADD);
    for (; i < len; i++) {
      float e = (float) Math.exp(x[off + i] - max);
      x[off + i] = e;
      sum += e;
    }
    float inv = 1f / sum;
    i = 0;
    for (; i + L <= len; i += L) {
      FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
    }
    for (; i < len; i++) {
      x[off + i] *= inv;
    }
  }
}
