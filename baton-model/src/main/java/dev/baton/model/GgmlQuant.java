package dev.baton.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar quantization and dequantization in ggml's exact bit layouts. These are the reference
 * implementations: the engine's vector kernels are tested against {@link #dequantize}.
 *
 * <ul>
 *   <li>Q8_0: 32 elements = f16 scale d + 32 int8 q; x = q * d.
 *   <li>Q4_0: 32 elements = f16 d + 16 bytes; byte j holds element j in its low nibble and element
 *       j+16 in its high nibble; x = (q - 8) * d.
 *   <li>Q4_K: 256 elements = f16 d, f16 dmin, 12 bytes of eight packed 6-bit (scale, min) pairs,
 *       128 bytes of nibbles; sub-block s of 32 elements: x = d * sc[s] * q - dmin * m[s]. Within
 *       each 64 elements, 32 bytes hold the first 32 in low nibbles and the next 32 in high
 *       nibbles.
 *   <li>Q6_K: 256 elements = ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; x
 *       = d * scales[s] * (q - 32) for sub-blocks s of 16 elements.
 * </ul>
 */
public final class GgmlQuant {
  private static final ValueLayout.OfShort F16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfFloat F32 =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private GgmlQuant() {}

  /** IEEE half to float. */
  public static float f16ToF32(short h) {
    return Float.float16ToFloat(h);
  }

  /** Float to IEEE half, round to nearest even (as ggml). */
  public static short f32ToF16(float f) {
    return Float.floatToFloat16(f);
  }

  /** bfloat16 to float. */
  public static float bf16ToF32(short h) {
    return Float.intBitsToFloat((h & 0xffff) << 16);
  }

  /** Float to bfloat16, round to nearest even, NaN kept quiet (as ggml). */
  public static short f32ToBf16(float f) {
    int u = Float.floatToRawIntBits(f);
    if ((u & 0x7fffffff) > 0x7f800000) {
      return (short) ((u >>> 16) | 64);
    }
    return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
  }

  /** Quantizes {@code src} (length a multiple of the block size) into a new byte array. */
  public static byte[] quantize(GgmlType type, float[] src) {
    byte[] out = new byte[Math.toIntExact(type.bytesFor(src.length))];
    quantize(type, src, 0, src.length, MemorySegment.ofArray(out), 0);
    return out;
  }

  /**
   * Quantizes {@code n} floats of {@code src} from {@code srcOffset} into {@code dst} at {@code
   * dstOffset} ({@code n} a multiple of the block size).
   */
  public static void quantize(
      GgmlType type, float[] src, int srcOffset, int n, MemorySegment dst, long dstOffset) {
    type.bytesFor(n); // checks the block multiple
    switch (type) {
      case F32 -> MemorySegment.copy(src, srcOffset, dst, F32, dstOffset, n);
      case F16 -> {
        for (int i = 0; i < n; i++) {
          dst.set(F16, dstOffset + 2L * i, f32ToF16(src[srcOffset + i]));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          dst.set(F16, dstOffset + 2L * i, f32ToBf16(src[srcOffset + i]));
        }
      }
      case Q8_0 -> {
        for (int b = 0; b < n / 32; b++) {
          quantizeQ8_0(src, srcOffset + 32 * b, dst, dstOffset + 34L * b);
        }
      }
      case Q4_0 -> {
        for (int b = 0; b < n / 32; b++) {
          quantizeQ4_0(src, srcOffset + 32 * b, dst, dstOffset + 18L * b);
        }
      }
      case Q4_K -> {
        for (int b = 0; b < n / 256; b++) {
          quantizeQ4_K(src, srcOffset + 256 * b, dst, dstOffset + 144L * b);
        }
      }
      case Q6_K -> {
        for (int b = 0; b < n / 256; b++) {
          quantizeQ6_K(src, srcOffset + 256 * b, dst, dstOffset + 210L * b);
        }
      }
    }
  }

  /**
   * Quantizes {@code n} floats of {@code src} from {@code srcOffset} into {@code dst} at {@code
   * dstOffset}; same bytes as the {@link MemorySegment} overload, with a fast path for Q8_0.
   */
  public static void quantize(
      GgmlType type, float[] src, int srcOffset, int n, byte[] dst, int dstOffset) {
    if (type != GgmlType.Q8_0) {
      quantize(type, src, srcOffset, n, MemorySegment.ofArray(dst), dstOffset);
      return;
    }
    type.bytesFor(n);
    for (int b = 0; b < n / 32; b++) {
      int xo = srcOffset + 32 * b;
      int o = dstOffset + 34 * b;
      float amax = 0;
      for (int j = 0; j < 32; j++) {
        amax = Math.max(amax, Math.abs(src[xo + j]));
      }
      float d = amax / 127f;
      float id = d != 0 ? 1f / d : 0f;
      short h = f32ToF16(d);
      dst[o] = (byte) h;
      dst[o + 1] = (byte) (h >> 8);
      for (int j = 0; j < 32; j++) {
        dst[o + 2 + j] = (byte) roundf(src[xo + j] * id);
      }
    }
  }

  /**
   * Dequantizes {@code n} elements (a multiple of the block size) of {@code type} starting at byte
   * {@code byteOffset} of {@code src} into {@code dst[dstOffset..]}.
   */
  public static void dequantize(
      GgmlType type, MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
    type.bytesFor(n);
    switch (type) {
      case F32 -> MemorySegment.copy(src, F32, byteOffset, dst, dstOffset, n);
      case F16 -> {
        for (int i = 0; i < n; i++) {
          dst[dstOffset + i] = f16ToF32(src.get(F16, byteOffset + 2L * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          dst[dstOffset + i] = bf16ToF32(src.get(F16, byteOffset + 2L * i));
        }
      }
      case Q8_0 -> {
        for (int b = 0; b < n / 32; b++) {
          long o = byteOffset + 34L * b;
          float d = f16ToF32(src.get(F16, o));
          int base = dstOffset + 32 * b;
          for (int j = 0; j < 32; j++) {
            dst[base + j] = src.get(ValueLayout.JAVA_BYTE, o + 2 + j) * d;
          }
        }
      }
      case Q4_0 -> {
        for (int b = 0; b < n / 32; b++) {
          long o = byteOffset + 18L * b;
          float d = f16ToF32(src.get(F16, o));
          int base = dstOffset + 32 * b;
          for (int j = 0; j < 16; j++) {
            int q = src.get(ValueLayout.JAVA_BYTE, o + 2 + j) & 0xff;
            dst[base + j] = ((q & 0xf) - 8) * d;
            dst[base + j + 16] = ((q >>> 4) - 8) * d;
          }
        }
      }
      case Q4_K -> {
        for (int b = 0; b < n / 256; b++) {
          dequantizeQ4_K(src, byteOffset + 144L * b, dst, dstOffset + 256 * b);
        }
      }
      case Q6_K -> {
        for (int b = 0; b < n / 256; b++) {
          dequantizeQ6_K(src, byteOffset + 210L * b, dst, dstOffset + 256 * b);
        }
      }
    }
  }

  // ---- rounding as ggml does it ----

  /** C's roundf: half away from zero. */
  private static int roundf(float x) {
    double r = Math.floor(Math.abs((double) x) + 0.5);
    return (int) (x < 0 ? -r : r);
  }

  /** ggml's nearest_int: round half to even. */
  private static int nearestInt(float x) {
    return (int) Math.rint(x);
  }

  private static byte u8(MemorySegment s, long o) {
    return s.get(ValueLayout.JAVA_BYTE, o);
  }

  private static void put(MemorySegment s, long o, int v) {
    s.set(ValueLayout.JAVA_BYTE, o, (byte) v);
  }

  // ---- Q8_0 ----

  private static void quantizeQ8_0(float[] x, int xo, MemorySegment dst, long o) {
    float amax = 0;
    for (int j = 0; j < 32; j++) {
      amax = Math.max(amax, Math.abs(x[xo + j]));
    }
    float d = amax / 127f;
    float id = d != 0 ? 1f / d : 0f;
    dst.set(F16, o, f32ToF16(d));
    for (int j = 0; j < 32; j++) {
      put(dst, o + 2 + j, roundf(x[xo + j] * id));
    }
  }

  // ---- Q4_0 ----

  private static void quantizeQ4_0(float[] x, int xo, MemorySegment dst, long o) {
    float amax = 0;
    float max = 0;
    for (int j = 0; j < 32; j++) {
      float v = x[xo + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    float d = max / -8f;
    float id = d != 0 ? 1f / d : 0f;
    dst.set(F16, o, f32ToF16(d));
    for (int j = 0; j < 16; j++) {
      int q0 = Math.min(15, (int) (byte) (int) (x[xo + j] * id + 8.5f));
      int q1 = Math.min(15, (int) (byte) (int) (x[xo + j + 16] * id + 8.5f));
      put(dst, o + 2 + j, q0 | (q1 << 4));
    }
  }

  // ---- Q4_K ----

  /** The 6-bit scale and min of sub-block {@code j} from the 12 packed bytes at {@code o}. */
  static int[] scaleMinK4(int j, MemorySegment s, long o) {
    int sc;
    int m;
    if (j < 4) {
      sc = u8(s, o + j) & 63;
      m = u8(s, o + j + 4) & 63;
    } else {
      sc = (u8(s, o + j + 4) & 0xf) | (((u8(s, o + j - 4) & 0xff) >>> 6) << 4);
      m = ((u8(s, o + j + 4) & 0xff) >>> 4) | (((u8(s, o + j) & 0xff) >>> 6) << 4);
    }
    return new int[] {sc, m};
  }

  private static void dequantizeQ4_K(MemorySegment s, long o, float[] y, int yo) {
    float d = f16ToF32(s.get(F16, o));
    float min = f16ToF32(s.get(F16, o + 2));
    long scales = o + 4;
    long q = o + 16;
    int is = 0;
    for (int j = 0; j < 256; j += 64) {
      int[] sm1 = scaleMinK4(is, s, scales);
      int[] sm2 = scaleMinK4(is + 1, s, scales);
      float d1 = d * sm1[0];
      float m1 = min * sm1[1];
      float d2 = d * sm2[0];
      float m2 = min * sm2[1];
      for (int l = 0; l < 32; l++) {
        y[yo + j + l] = d1 * (u8(s, q + l) & 0xf) - m1;
      }
      for (int l = 0; l < 32; l++) {
        y[yo + j + 32 + l] = d2 * ((u8(s, q + l) & 0xff) >>> 4) - m2;
      }
      q += 32;
      is += 2;
    }
  }

  private static void quantizeQ4_K(float[] x, int xo, MemorySegment dst, long o) {
    // Per sub-block of 32: x ~= scale * q - mn, q in 0..15, mn >= 0 (min clamped to <= 0).
    float[] scales = new float[8];
    float[] mins = new float[8];
    float maxScale = 0;
    float maxMin = 0;
    for (int j = 0; j < 8; j++) {
      float lo = Float.MAX_VALUE;
      float hi = -Float.MAX_VALUE;
      for (int l = 0; l < 32; l++) {
        float v = x[xo + 32 * j + l];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if (lo > 0) {
        lo = 0;
      }
      scales[j] = (hi - lo) / 15f;
      mins[j] = -lo;
      maxScale = Math.max(maxScale, scales[j]);
      maxMin = Math.max(maxMin, mins[j]);
    }
    float invScale = maxScale > 0 ? 63f / maxScale : 0f;
    float invMin = maxMin > 0 ? 63f / maxMin : 0f;
    byte[] packed = new byte[12];
    for (int j = 0; j < 8; j++) {
      int ls = Math.min(63, nearestInt(invScale * scales[j]));
      int lm = Math.min(63, nearestInt(invMin * mins[j]));
      if (j < 4) {
        packed[j] = (byte) ls;
        packed[j + 4] = (byte) lm;
      } else {
        packed[j + 4] = (byte) ((ls & 0xf) | ((lm & 0xf) << 4));
        packed[j - 4] |= (byte) ((ls >>> 4) << 6);
        packed[j] |= (byte) ((lm >>> 4) << 6);
      }
    }
    dst.set(F16, o, f32ToF16(maxScale / 63f));
    dst.set(F16, o + 2, f32ToF16(maxMin / 63f));
    MemorySegment.copy(packed, 0, dst, ValueLayout.JAVA_BYTE, o + 4, 12);
    float d = f16ToF32(dst.get(F16, o));
    float dmin = f16ToF32(dst.get(F16, o + 2));
    int[] levels = new int[256];
    for (int j = 0; j < 8; j++) {
      int[] sm = scaleMinK4(j, dst, o + 4);
      float dj = d * sm[0];
      if (dj == 0) {
        continue;
      }
      float dm = dmin * sm[1];
      for (int l = 0; l < 32; l++) {
        int q = nearestInt((x[xo + 32 * j + l] + dm) / dj);
        levels[32 * j + l] = Math.max(0, Math.min(15, q));
      }
    }
    long q = o + 16;
    for (int j = 0; j < 256; j += 64) {
      for (int l = 0; l < 32; l++) {
        put(dst, q + l, levels[j + l] | (levels[j + l + 32] << 4));
      }
      q += 32;
    }
  }

  // ---- Q6_K ----

  private static void dequantizeQ6_K(MemorySegment s, long o, float[] y, int yo) {
    float d = f16ToF32(s.get(F16, o + 208));
    long ql = o;
    long qh = o + 128;
    long sc = o + 192;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int h = u8(s, qh + l) & 0xff;
        int a = u8(s, ql + l) & 0xff;
        int b = u8(s, ql + l + 32) & 0xff;
        int q1 = ((a & 0xf) | ((h & 3) << 4)) - 32;
        int q2 = ((b & 0xf) | (((h >>> 2) & 3) << 4)) - 32;
        int q3 = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
        int q4 = ((b >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
        y[yo + n + l] = d * u8(s, sc + is) * q1;
        y[yo + n + l + 32] = d * u8(s, sc + is + 2) * q2;
        y[yo + n + l + 64] = d * u8(s, sc + is + 4) * q3;
        y[yo + n + l + 96] = d * u8(s, sc + is + 6) * q4;
      }
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }

  private static void quantizeQ6_K(float[] x, int xo, MemorySegment dst, long o) {
    // Per sub-block of 16: signed scale mapping the largest-magnitude value to -32.
    float[] scales = new float[16];
    float maxScale = 0;
    float maxAbsScale = 0;
    for (int ib = 0; ib < 16; ib++) {
      float amax = 0;
      float max = 0;
      for (int l = 0; l < 16; l++) {
        float v = x[xo + 16 * ib + l];
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      scales[ib] = max / -32f;
      if (Math.abs(scales[ib]) > maxAbsScale) {
        maxAbsScale = Math.abs(scales[ib]);
        maxScale = scales[ib];
      }
    }
    long ql = o;
    long qh = o + 128;
    long sc = o + 192;
    if (maxAbsScale == 0) {
      dst.asSlice(o, 210).fill((byte) 0);
      return;
    }
    float iscale = -128f / maxScale;
    dst.set(F16, o + 208, f32ToF16(1f / iscale));
    for (int ib = 0; ib < 16; ib++) {
      put(dst, sc + ib, Math.min(127, nearestInt(iscale * scales[ib])));
    }
    float d0 = f16ToF32(dst.get(F16, o + 208));
    int[] levels = new int[256];
    for (int j = 0; j < 16; j++) {
      float d = d0 * u8(dst, sc + j);
      if (d == 0) {
        levels[16 * j] = 32;
        java.util.Arrays.fill(levels, 16 * j, 16 * j + 16, 32);
        continue;
      }
      for (int ii = 0; ii < 16; ii++) {
        int l = nearestInt(x[xo + 16 * j + ii] / d);
        levels[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }
    for (int j = 0; j < 256; j += 128) {
      for (int l = 0; l < 32; l++) {
        int q1 = levels[j + l] & 0xf;
        int q2 = levels[j + l + 32] & 0xf;
        int q3 = levels[j + l + 64] & 0xf;
        int q4 = levels[j + l + 96] & 0xf;
        put(dst, ql + l, q1 | (q3 << 4));
        put(dst, ql + l + 32, q2 | (q4 << 4));
        put(
            dst,
            qh + l,
            (levels[j + l] >>> 4)
                | ((levels[j + l + 32] >>> 4) << 2)
                | ((levels[j + l + 64] >>> 4) << 4)
                | ((levels[j + l + 96] >>> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
  }
}
