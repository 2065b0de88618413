package dev.baton.engine.kernel;

import static dev.baton.engine.kernel.KernelTwinsTest.randomFloats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.baton.model.GgmlType;
import java.lang.foreign.Arena;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The native Q8_0 kernels against their scalar oracle ({@link ScalarKernels#gemmQ8Activations},
 * same activation rounding) and against the float kernels (within the rounding of int8
 * activations). Skipped where the library is not built or the CPU cannot run it: there {@link
 * Kernels} runs the Vector API kernels, which {@link KernelTwinsTest} covers.
 */
class NativeKernelsTest {

  static final Arena ARENA = Arena.ofShared();

  @AfterAll
  static void close() {
    ARENA.close();
  }

  static Tensor randomTensor(GgmlType type, int rows, int cols, long seed) {
    return KernelTwinsTest.randomTensor(ARENA, type, rows, cols, seed);
  }

  @Test
  void theChoiceIsReported() {
    if (Kernels.NATIVE) {
      assertThat(Kernels.describe()).startsWith("native(avx512-vnni)+vector");
    } else {
      assertThat(NativeKernels.status()).startsWith(NativeKernels.available() ? "avx" : "unavail");
      assertThat(Kernels.describe()).doesNotContain("native");
    }
  }

  @Test
  void activationsAreQuantizedExactlyAsTheOracleDoes() {
    assumeTrue(NativeKernels.available(), NativeKernels::status);
    int cols = 256;
    int n = 3;
    float[] x = randomFloats(n * (cols + 7), 3);
    x[5] = 0; // a block with an exact zero, and a block of zeros (scale 0)
    for (int i = 64; i < 96; i++) {
      x[cols + 7 + i] = 0;
    }
    byte[] q = new byte[n * cols];
    float[] d = new float[n * cols / 32];
    int[] sums = new int[n * cols / 32];
    NativeKernels.quantize(x, cols + 7, n, cols, q, d, sums);
    byte[] eq = new byte[cols];
    float[] ed = new float[cols / 32];
    int[] es = new int[cols / 32];
    for (int t = 0; t < n; t++) {
      ScalarKernels.quantizeQ8(x, t * (cols + 7), cols, eq, 0, ed, es, 0);
      for (int i = 0; i < cols; i++) {
        assertThat(q[t * cols + i]).as("t=%d quant %d", t, i).isEqualTo(eq[i]);
      }
      for (int b = 0; b < cols / 32; b++) {
        assertThat(d[t * cols / 32 + b]).as("t=%d scale %d", t, b).isEqualTo(ed[b]);
        assertThat(sums[t * cols / 32 + b]).as("t=%d sum %d", t, b).isEqualTo(es[b]);
      }
    }
    assertThat(d[cols / 32 + 2]).isZero();
  }

  @Test
  void gemmMatchesTheOracleForEveryBatchSizeAndRowSplit() {
    assumeTrue(NativeKernels.available(), NativeKernels::status);
    int rows = 37; // not a multiple of the 4-row tile
    int cols = 512;
    Tensor w = randomTensor(GgmlType.Q8_0, rows, cols, 2);
    for (int n : new int[] {1, 2, 3, 4, 5, 8, 9}) {
      int xStride = cols + 3;
      float[] x = randomFloats(n * xStride, n);
      float[] expect = new float[n * rows];
      float[] got = new float[n * rows];
      ScalarKernels.gemmQ8Activations(w, x, xStride, n, expect, rows, 0, rows);
      // Two row ranges, as two threads would split them.
      NativeKernels.gemmQ8(w, x, xStride, n, got, rows, 0, 21);
      NativeKernels.gemmQ8(w, x, xStride, n, got, rows, 21, rows);
      assertCloseToOracle(w, x, xStride, n, got, expect);
    }
  }

  @Test
  void packedGemmMatchesTheOracleAndTheUnpackedKernel() {
    assumeTrue(NativeKernels.available(), NativeKernels::status);
    int rows = 48;
    int cols = 288; // 9 blocks: an odd count, which only the packed kernel takes
    Tensor plain = randomTensor(GgmlType.Q8_0, rows, cols, 12);
    Tensor packed = NativeKernels.pack(plain, ARENA);
    assertThat(packed.packed()).isNotNull();
    for (int n : new int[] {1, 2, 3, 7, 8, 9, 17}) {
      int xStride = cols + 5;
      float[] x = randomFloats(n * xStride, 20 + n);
      float[] expect = new float[n * rows];
      float[] got = new float[n * rows];
      ScalarKernels.gemmQ8Activations(plain, x, xStride, n, expect, rows, 0, rows);
      NativeKernels.gemmQ8(packed, x, xStride, n, got, rows, 0, 16);
      NativeKernels.gemmQ8(packed, x, xStride, n, got, rows, 16, rows);
      assertCloseToOracle(plain, x, xStride, n, got, expect);
    }
    // Rows outside whole groups: the packed matrix's plain blocks are read (when it has pairs).
    Tensor even = NativeKernels.pack(randomTensor(GgmlType.Q8_0, 32, 256, 13), ARENA);
    float[] x = randomFloats(256, 14);
    float[] expect = new float[32];
    float[] got = new float[32];
    ScalarKernels.gemmQ8Activations(even, x, 256, 1, expect, 32, 0, 32);
    NativeKernels.gemmQ8(even, x, 256, 1, got, 32, 0, 5);
    NativeKernels.gemmQ8(even, x, 256, 1, got, 32, 5, 32);
    assertCloseToOracle(even, x, 256, 1, got, expect);
    assertThatThrownBy(() -> NativeKernels.gemmQ8(packed, x, 256, 1, new float[48], 48, 0, 5))
        .isInstanceOf(IllegalArgumentException.class);
  }

  static void assertCloseToOracle(
      Tensor w, float[] x, int xStride, int n, float[] got, float[] expect) {
    int rows = w.rows();
    int cols = w.cols();
    float[] row = new float[cols];
    for (int r = 0; r < rows; r++) {
      ScalarKernels.dequantizeRow(w, r, row, 0);
      for (int t = 0; t < n; t++) {
        double mag = 0; // the sum of the products' sizes bounds the float rounding
        for (int k = 0; k < cols; k++) {
          mag += Math.abs(row[k] * x[t * xStride + k]);
        }
        assertThat((double) got[t * rows + r])
            .as("n=%d t=%d r=%d", n, t, r)
            .isCloseTo(expect[t * rows + r], Offset.offset(1e-5 * mag + 1e-7));
      }
    }
  }

  @Test
  void oracleAgreesWithFloatActivationsWithinInt8Rounding() {
    int rows = 16;
    int cols = 2048;
    Tensor w = randomTensor(GgmlType.Q8_0, rows, cols, 4);
    float[] x = randomFloats(cols, 5);
    float[] exact = new float[rows];
    float[] rounded = new float[rows];
    ScalarKernels.gemm(w, x, cols, 1, exact, rows, 0, rows, new float[cols]);
    ScalarKernels.gemmQ8Activations(w, x, cols, 1, rounded, rows, 0, rows);
    float[] row = new float[cols];
    for (int r = 0; r < rows; r++) {
      ScalarKernels.dequantizeRow(w, r, row, 0);
      double mag = 0;
      for (int k = 0; k < cols; k++) {
        mag += Math.abs(row[k] * x[k]);
      }
      // Each activation moves by at most half a quantization step, 1/254 of its block's max.
      assertThat((double) rounded[r]).isCloseTo(exact[r], Offset.offset(mag / 100));
      assertThat(rounded[r]).isNotEqualTo(exact[r]);
    }
  }

  @Test
  void kernelsDispatchQ8MatricesToTheNativeLibrary() {
    assumeTrue(Kernels.NATIVE, NativeKernels::status);
    int rows = 12;
    int cols = 128;
    Tensor w = randomTensor(GgmlType.Q8_0, rows, cols, 6);
    float[] x = randomFloats(2 * cols, 7);
    float[] viaKernels = new float[2 * rows];
    float[] direct = new float[2 * rows];
    Kernels.gemm(w, x, cols, 2, viaKernels, rows, 0, rows, new float[Kernels.scratchFloats(cols)]);
    NativeKernels.gemmQ8(w, x, cols, 2, direct, rows, 0, rows);
    assertThat(viaKernels).containsExactly(direct);
  }

  @Test
  void outOfRangeCallsAreRefusedBeforeReachingNativeCode() {
    assumeTrue(NativeKernels.available(), NativeKernels::status);
    Tensor w = randomTensor(GgmlType.Q8_0, 8, 128, 8);
    float[] x = new float[128];
    assertThatThrownBy(() -> NativeKernels.gemmQ8(w, x, 128, 2, new float[16], 8, 0, 8))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeKernels.gemmQ8(w, x, 128, 1, new float[7], 8, 0, 8))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeKernels.gemmQ8(w, x, 128, 1, new float[8], 8, 0, 9))
        .isInstanceOf(IllegalArgumentException.class);
    Tensor odd = randomTensor(GgmlType.Q8_0, 8, 96, 9);
    assertThat(NativeKernels.supports(odd)).isFalse();
  }
}
