package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GgmlQuantTest {

  private static float[] dequant(GgmlType t, byte[] q, int n) {
    float[] out = new float[n];
    GgmlQuant.dequantize(t, MemorySegment.ofArray(q), 0, out, 0, n);
    return out;
  }

  /** Relative RMS error bound per type for Gaussian data. */
  private static double bound(GgmlType t) {
    return switch (t) {
      case F32 -> 0;
      case F16 -> 1e-3;
      case BF16 -> 5e-3;
      case Q8_0 -> 0.01;
      case Q6_K -> 0.04;
      case Q4_0, Q4_K -> 0.15;
    };
  }

  @ParameterizedTest
  @EnumSource(GgmlType.class)
  void roundTripErrorIsBounded(GgmlType type) {
    Random rnd = new Random(type.ordinal());
    int n = 256 * 8;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rnd.nextGaussian() * (1 + i / 256);
    }
    byte[] q = GgmlQuant.quantize(type, x);
    assertThat(q.length).isEqualTo(type.bytesFor(n));
    float[] y = dequant(type, q, n);
    double err = 0;
    double norm = 0;
    for (int i = 0; i < n; i++) {
      err += (x[i] - y[i]) * (double) (x[i] - y[i]);
      norm += x[i] * (double) x[i];
    }
    assertThat(Math.sqrt(err / norm)).isLessThanOrEqualTo(bound(type));
    // dequantize at an offset into a larger buffer gives the same values
    float[] z = new float[n + 5];
    byte[] padded = new byte[q.length + 34];
    System.arraycopy(q, 0, padded, 34, q.length);
    GgmlQuant.dequantize(type, MemorySegment.ofArray(padded), 34, z, 5, n);
    for (int i = 0; i < n; i++) {
      assertThat(z[i + 5]).isEqualTo(y[i]);
    }
  }

  @ParameterizedTest
  @EnumSource(GgmlType.class)
  void zerosStayZero(GgmlType type) {
    float[] x = new float[256];
    // -0.0 is fine (ggml's Q4_0 scale is max / -8 = -0.0 for an all-zero block)
    for (float v : dequant(type, GgmlQuant.quantize(type, x), 256)) {
      assertThat(v == 0f).isTrue();
    }
  }

  @Test
  void q8_0LayoutIsScaleThenInt8() {
    float[] x = new float[32];
    for (int i = 0; i < 32; i++) {
      x[i] = i - 16;
    }
    byte[] q = GgmlQuant.quantize(GgmlType.Q8_0, x);
    float d = 16f / 127f;
    assertThat(GgmlQuant.f16ToF32((short) ((q[0] & 0xff) | (q[1] << 8))))
        .isEqualTo(GgmlQuant.f16ToF32(GgmlQuant.f32ToF16(d)));
    assertThat(q[2]).isEqualTo((byte) -127); // -16 / d
    assertThat(q[2 + 16]).isEqualTo((byte) 0);
    assertThat(q[2 + 24]).isEqualTo((byte) Math.round(8 / d));
  }

  @Test
  void q8_0RoundsHalfAwayFromZeroLikeRoundf() {
    // amax 127 gives d = 1 exactly: x * id = -2.5 must round to -3 (C roundf), not -2.
    float[] x = new float[32];
    x[0] = 127;
    x[1] = -2.5f;
    x[2] = 2.5f;
    byte[] q = GgmlQuant.quantize(GgmlType.Q8_0, x);
    assertThat(q[3]).isEqualTo((byte) -3);
    assertThat(q[4]).isEqualTo((byte) 3);
  }

  @Test
  void q4_0LowNibblesAreFirstHalf() {
    // Hand-built block: d = 0.5, byte j = (lo = j % 16) | (hi = 15 - j % 16) << 4.
    byte[] b = new byte[18];
    short h = GgmlQuant.f32ToF16(0.5f);
    b[0] = (byte) h;
    b[1] = (byte) (h >> 8);
    for (int j = 0; j < 16; j++) {
      b[2 + j] = (byte) (j | ((15 - j) << 4));
    }
    float[] y = dequant(GgmlType.Q4_0, b, 32);
    for (int j = 0; j < 16; j++) {
      assertThat(y[j]).isEqualTo((j - 8) * 0.5f);
      assertThat(y[j + 16]).isEqualTo((15 - j - 8) * 0.5f);
    }
  }

  @Test
  void q4_kHandBuiltBlock() {
    // d = 1, dmin = 0.5; sub-block s has scale s+1 and min s (s < 4 in the low 6 bits,
    // s >= 4 split across the packed bytes as ggml's get_scale_min_k4 reads them).
    byte[] b = new byte[144];
    putF16(b, 0, 1f);
    putF16(b, 2, 0.5f);
    int[] sc = {1, 2, 3, 4, 50, 60, 33, 63};
    int[] mn = {0, 1, 2, 3, 40, 17, 63, 5};
    for (int j = 0; j < 8; j++) {
      if (j < 4) {
        b[4 + j] |= (byte) sc[j];
        b[4 + j + 4] |= (byte) mn[j];
      } else {
        b[4 + j + 4] = (byte) ((sc[j] & 0xf) | ((mn[j] & 0xf) << 4));
        b[4 + j - 4] |= (byte) ((sc[j] >> 4) << 6);
        b[4 + j] |= (byte) ((mn[j] >> 4) << 6);
      }
    }
    // qs: element e of chunk c (64 elements): low nibble of byte 16+32c+(e%32) for e<32.
    for (int i = 0; i < 128; i++) {
      b[16 + i] = (byte) ((i % 16) | (((i * 7) % 16) << 4));
    }
    float[] y = dequant(GgmlType.Q4_K, b, 256);
    for (int e = 0; e < 256; e++) {
      int chunk = e / 64;
      int within = e % 64;
      int sub = e / 32;
      int byteIdx = 32 * chunk + within % 32;
      int q = within < 32 ? byteIdx % 16 : (byteIdx * 7) % 16;
      assertThat(y[e]).as("element %d", e).isEqualTo(1f * sc[sub] * q - 0.5f * mn[sub]);
    }
  }

  @Test
  void q6_kHandBuiltBlock() {
    byte[] b = new byte[210];
    Random rnd = new Random(3);
    int[] q = new int[256]; // 6-bit values 0..63
    for (int i = 0; i < 256; i++) {
      q[i] = rnd.nextInt(64);
    }
    byte[] scales = new byte[16];
    for (int i = 0; i < 16; i++) {
      scales[i] = (byte) (rnd.nextInt(255) - 127);
    }
    // ggml layout: per 128-element half h, ql[64h + l] holds q[128h+l] (low) and q[128h+l+64]
    // (high nibble); ql[64h+32+l] holds q[128h+l+32] and q[128h+l+96]; qh[32h+l] the top 2 bits
    // of those four values at bits 0, 2, 4, 6.
    for (int h = 0; h < 2; h++) {
      for (int l = 0; l < 32; l++) {
        int base = 128 * h + l;
        b[64 * h + l] = (byte) ((q[base] & 0xf) | ((q[base + 64] & 0xf) << 4));
        b[64 * h + 32 + l] = (byte) ((q[base + 32] & 0xf) | ((q[base + 96] & 0xf) << 4));
        b[128 + 32 * h + l] =
            (byte)
                ((q[base] >> 4)
                    | ((q[base + 32] >> 4) << 2)
                    | ((q[base + 64] >> 4) << 4)
                    | ((q[base + 96] >> 4) << 6));
      }
    }
    System.arraycopy(scales, 0, b, 192, 16);
    putF16(b, 208, 0.25f);
    float[] y = dequant(GgmlType.Q6_K, b, 256);
    for (int e = 0; e < 256; e++) {
      assertThat(y[e]).as("element %d", e).isEqualTo(0.25f * scales[e / 16] * (q[e] - 32));
    }
  }

  @Test
  void halfAndBfloatConversions() {
    assertThat(GgmlQuant.f16ToF32(GgmlQuant.f32ToF16(1.5f))).isEqualTo(1.5f);
    assertThat(GgmlQuant.f32ToF16(1f)).isEqualTo((short) 0x3c00);
    assertThat(GgmlQuant.f32ToBf16(1f)).isEqualTo((short) 0x3f80);
    assertThat(GgmlQuant.bf16ToF32((short) 0x3f80)).isEqualTo(1f);
    // round to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> 1
    assertThat(GgmlQuant.bf16ToF32(GgmlQuant.f32ToBf16(1f + 0x1p-8f))).isEqualTo(1f);
    assertThat(GgmlQuant.bf16ToF32(GgmlQuant.f32ToBf16(1f + 0x1p-8f + 0x1p-20f)))
        .isEqualTo(1f + 0x1p-7f);
    assertThat(Float.isNaN(GgmlQuant.bf16ToF32(GgmlQuant.f32ToBf16(Float.NaN)))).isTrue();
    assertThat(GgmlQuant.bf16ToF32(GgmlQuant.f32ToBf16(3.3f))).isCloseTo(3.3f, within(0.02f));
  }

  private static void putF16(byte[] b, int at, float v) {
    short h = GgmlQuant.f32ToF16(v);
    b[at] = (byte) h;
    b[at + 1] = (byte) (h >> 8);
  }
}
