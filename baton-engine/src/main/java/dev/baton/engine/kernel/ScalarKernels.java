package dev.baton.engine.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scalar twins of {@link VectorKernels}: plain loops, one element at a time, written to be
 * obviously right rather than fast. They are the oracle the vector kernels are tested against and
 * the path {@code -Dbaton.kernels=scalar} forces.
 */
public final class ScalarKernels {

  static final ValueLayout.OfFloat F32_LE =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfShort I16_LE =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private ScalarKernels() {}

  static float f16(MemorySegment s, long offset) {
    return Float.float16ToFloat(s.get(I16_LE, offset));
  }

  static int u8(MemorySegment s, long offset) {
    return s.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
  }

  static byte i8(MemorySegment s, long offset) {
    return s.get(ValueLayout.JAVA_BYTE, offset);
  }

  /** Writes row {@code row} of {@code w} as floats to {@code out[off .. off + cols)}. */
  public static void dequantizeRow(Tensor w, int row, float[] out, int off) {
    MemorySegment s = w.data();
    long base = row * w.rowBytes();
    int cols = w.cols();
    switch (w.type()) {
      case F32 -> {
        for (int i = 0; i < cols; i++) {
          out[off + i] = s.get(F32_LE, base + 4L * i);
        }
      }
      case F16 -> {
        for (int i = 0; i < cols; i++) {
          out[off + i] = f16(s, base + 2L * i);
        }
      }
      case BF16 -> {
        for (int i = 0; i < cols; i++) {
          out[off + i] = Float.intBitsToFloat(s.get(I16_LE, base + 2L * i) << 16);
        }
      }
      case Q8_0 -> {
        for (int b = 0; b < cols / 32; b++) {
          long blk = base + 34L * b;
          float d = f16(s, blk);
          for (int i = 0; i < 32; i++) {
            out[off + b * 32 + i] = d * i8(s, blk + 2 + i);
          }
        }
      }
      case Q4_0 -> {
        for (int b = 0; b < cols / 32; b++) {
          long blk = base + 18L * b;
          float d = f16(s, blk);
          for (int i = 0; i < 16; i++) {
            int q = u8(s, blk + 2 + i);
            out[off + b * 32 + i] = d * ((q & 0xF) - 8);
            out[off + b * 32 + i + 16] = d * ((q >> 4) - 8);
          }
        }
      }
      case Q4_K -> {
        for (int b = 0; b < cols / 256; b++) {
          dequantizeQ4K(s, base + 144L * b, out, off + b * 256);
        }
      }
      case Q6_K -> {
        for (int b = 0; b < cols / 256; b++) {
          dequantizeQ6K(s, base + 210L * b, out, off + b * 256);
        }
      }
    }
  }

  /**
   * Q4_K super-block (144 bytes, 256 weights): f16 d, f16 dmin, 12 bytes of packed 6-bit scales and
   * mins for 8 sub-blocks of 32, then 128 bytes of nibbles; weight = d*sc*q - dmin*m.
   */
  static void dequantizeQ4K(MemorySegment s, long blk, float[] out, int off) {
    float d = f16(s, blk);
    float dmin = f16(s, blk + 2);
    long scales = blk + 4;
    long qs = blk + 16;
    for (int j = 0; j < 4; j++) {
      int sc1 = q4kScale(s, scales, 2 * j);
      int m1 = q4kMin(s, scales, 2 * j);
      int sc2 = q4kScale(s, scales, 2 * j + 1);
      int m2 = q4kMin(s, scales, 2 * j + 1);
      for (int l = 0; l < 32; l++) {
        int q = u8(s, qs + 32L * j + l);
        out[off + 64 * j + l] = d * sc1 * (q & 0xF) - dmin * m1;
        out[off + 64 * j + 32 + l] = d * sc2 * (q >> 4) - dmin * m2;
      }
    }
  }

  /** The 6-bit scale of sub-block {@code j} (0..7) of a Q4_K super-block. */
  static int q4kScale(MemorySegment s, long scales, int j) {
    if (j < 4) {
      return u8(s, scales + j) & 63;
    }
    return (u8(s, scales + j + 4) & 0xF) | ((u8(s, scales + j - 4) >> 6) << 4);
  }

  /** The 6-bit min of sub-block {@code j} (0..7) of a Q4_K super-block. */
  static int q4kMin(MemorySegment s, long scales, int j) {
    if (j < 4) {
      return u8(s, scales + j + 4) & 63;
    }
    return (u8(s, scales + j + 4) >> 4) | ((u8(s, scales + j) >> 6) << 4);
  }

  /**
   * Q6_K super-block (210 bytes, 256 weights): 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16
   * int8 scales, f16 d; weight = d * scale * (q - 32).
   */
  static void dequantizeQ6K(MemorySegment s, long blk, float[] out, int off) {
    float d = f16(s, blk + 208);
    for (int half = 0; half < 2; half++) {
      long ql = blk + 64L * half;
      long qh = blk + 128 + 32L * half;
      long sc = blk + 192 + 8L * half;
      int y = off + 128 * half;
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int h = u8(s, qh + l);
        int qa = u8(s, ql + l);
        int qb = u8(s, ql + l + 32);
        int q1 = ((qa & 0xF) | ((h & 3) << 4)) - 32;
        int q2 = ((qb & 0xF) | (((h >> 2) & 3) << 4)) - 32;
        int q3 = ((qa >> 4) | (((h >> 4) & 3) << 4)) - 32;
        int q4 = ((qb >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = d * i8(s, sc + is) * q1;
        out[y + l + 32] = d * i8(s, sc + is + 2) * q2;
        out[y + l + 64] = d * i8(s, sc + is + 4) * q3;
        out[y + l + 96] = d * i8(s, sc + is + 6) * q4;
      }
    }
  }

  /**
   * {@code out[t * outStride + r] = W[r, :] . x[t * xStride ..]} for rows {@code r0 <= r < r1} and
   * tokens {@code 0 <= t < n}. {@code scratch} holds at least one dequantized row.
   */
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
    for (int r = r0; r < r1; r++) {
      dequantizeRow(w, r, scratch, 0);
      for (int t = 0; t < n; t++) {
        out[t * outStride + r] = dot(scratch, 0, x, t * xStride, cols);
      }
    }
  }

  /**
   * Rounds each 32-element block of {@code x[xo .. xo + len)} to int8 as the native kernels do:
   * scale {@code d = max|x| / 127}, quants {@code rint(x * (1 / d))}; block {@code b}'s scale goes
   * to {@code d[bo + b]} and the sum of its quants to {@code sums[bo + b]}.
   */
  public static void quantizeQ8(
      float[] x, int xo, int len, byte[] q, int qo, float[] d, int[] sums, int bo) {
    for (int b = 0; b < len / 32; b++) {
      float amax = 0;
      for (int i = 0; i < 32; i++) {
        amax = Math.max(amax, Math.abs(x[xo + 32 * b + i]));
      }
      float scale = amax / 127f;
      float inv = scale != 0 ? 1f / scale : 0f;
      int sum = 0;
      for (int i = 0; i < 32; i++) {
        int v = (int) Math.rint(x[xo + 32 * b + i] * inv);
        q[qo + 32 * b + i] = (byte) v;
        sum += v;
      }
      d[bo + b] = scale;
      sums[bo + b] = sum;
    }
  }

  /**
   * The oracle of the native Q8_0 kernels: {@link #gemm} on a Q8_0 matrix with the activations
   * first rounded by {@link #quantizeQ8}; each block's integer dot product is exact and scaled by
   * {@code d_weight * d_activation}.
   */
  public static void gemmQ8Activations(
      Tensor w, float[] x, int xStride, int n, float[] out, int outStride, int r0, int r1) {
    int cols = w.cols();
    int blocks = cols / 32;
    byte[] q = new byte[cols];
    float[] d = new float[blocks];
    int[] sums = new int[blocks];
    MemorySegment s = w.data();
    for (int t = 0; t < n; t++) {
      quantizeQ8(x, t * xStride, cols, q, 0, d, sums, 0);
      for (int r = r0; r < r1; r++) {
        long base = r * w.rowBytes();
        float acc = 0;
        for (int b = 0; b < blocks; b++) {
          long blk = base + 34L * b;
          int dot = 0;
          for (int i = 0; i < 32; i++) {
            dot += s.get(ValueLayout.JAVA_BYTE, blk + 2 + i) * q[32 * b + i];
          }
          acc += f16(s, blk) * d[b] * dot;
        }
        out[t * outStride + r] = acc;
      }
    }
  }

  public static float dot(float[] a, int ao, float[] b, int bo, int len) {
    float sum = 0;
    for (int i = 0; i < len; i++) {
      sum += a[ao + i] * b[bo + i];
    }
    return sum;
  }

  /** {@code out = x / rms(x) * weight} over {@code len} elements. */
  public static void rmsNorm(
      float[] out, int oo, float[] x, int xo, float[] weight, int len, float eps) {
    float ss = 0;
    for (int i = 0; i < len; i++) {
      ss += x[xo + i] * x[xo + i];
    }
    float scale = (float) (1.0 / Math.sqrt(ss / len + eps));
    for (int i = 0; i < len; i++) {
      out[oo + i] = x[xo + i] * scale * weight[i];
    }
  }

  /** {@code gate[i] = silu(gate[i]) * up[i]}. */
  public static void siluMul(float[] gate, int go, float[] up, int uo, int len) {
    for (int i = 0; i < len; i++) {
      float g = gate[go + i];
      gate[go + i] = g / (1f + (float) Math.exp(-g)) * up[uo + i];
    }
  }

  /** {@code y[i] += x[i] * a}. */
  public static void axpy(float[] y, int yo, float[] x, int xo, float a, int len) {
    for (int i = 0; i < len; i++) {
      y[yo + i] += x[xo + i] * a;
    }
  }

  /** {@code y[i] += x[i]}. */
  public static void add(float[] y, int yo, float[] x, int xo, int len) {
    for (int i = 0; i < len; i++) {
      y[yo + i] += x[xo + i];
    }
  }

  /** In-place softmax of {@code x[off .. off + len)}. */
  public static void softmax(float[] x, int off, int len) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < len; i++) {
      max = Math.max(max, x[off + i]);
    }
    float sum = 0;
    for (int i = 0; i < len; i++) {
      float e = (float) Math.exp(x[off + i] - max);
      x[off + i] = e;
      sum += e;
    }
    float inv = 1f / sum;
    for (int i = 0; i < len; i++) {
      x[off + i] *= inv;
    }
  }
}
