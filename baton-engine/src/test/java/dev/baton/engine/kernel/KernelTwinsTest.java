package dev.baton.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.engine.KvBlockPool;
import dev.baton.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every vector kernel against its scalar twin on seeded random inputs. */
class KernelTwinsTest {

  static final Arena ARENA = Arena.ofShared();
  static final ValueLayout.OfShort I16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @AfterAll
  static void close() {
    ARENA.close();
  }

  /** Random but valid tensor data of {@code type}: random quants, finite small scales. */
  static Tensor randomTensor(GgmlType type, int rows, int cols, long seed) {
    return randomTensor(ARENA, type, rows, cols, seed);
  }

  static Tensor randomTensor(Arena arena, GgmlType type, int rows, int cols, long seed) {
    Random rnd = new Random(seed);
    long bytes = rows * type.bytesFor(cols);
    MemorySegment s = arena.allocate(bytes, 64);
    for (long i = 0; i < bytes; i++) {
      s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
    }
    long blocks = bytes / type.bytesPerBlock;
    for (long b = 0; b < blocks; b++) {
      long o = b * type.bytesPerBlock;
      switch (type) {
        case F32 ->
            s.set(
                ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                o,
                (float) rnd.nextGaussian());
        case F16 -> s.set(I16, o, Float.floatToFloat16((float) rnd.nextGaussian()));
        case BF16 ->
            s.set(I16, o, (short) (Float.floatToIntBits((float) rnd.nextGaussian()) >>> 16));
        case Q8_0, Q4_0 -> s.set(I16, o, Float.floatToFloat16(rnd.nextFloat() * 0.02f));
        case Q4_K -> {
          s.set(I16, o, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
          s.set(I16, o + 2, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
        }
        case Q6_K -> s.set(I16, o + 208, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
      }
    }
    return new Tensor("w", s, type, rows, cols);
  }

  static float[] randomFloats(int n, long seed) {
    Random rnd = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    return x;
  }

  @ParameterizedTest
  @EnumSource(GgmlType.class)
  void dequantizeRowMatchesScalar(GgmlType type) {
    Tensor w = randomTensor(type, 3, 512, 1);
    for (int r = 0; r < 3; r++) {
      float[] a = new float[512];
      float[] b = new float[512];
      ScalarKernels.dequantizeRow(w, r, a, 0);
      VectorKernels.dequantizeRow(w, r, b, 0);
      for (int i = 0; i < 512; i++) {
        assertThat(b[i]).as("%s row %d elem %d", type, r, i).isCloseTo(a[i], within(a[i]));
      }
    }
  }

  private static org.assertj.core.data.Offset<Float> within(float v) {
    return org.assertj.core.data.Offset.offset(1e-6f + Math.abs(v) * 1e-5f);
  }

  @ParameterizedTest
  @EnumSource(GgmlType.class)
  void gemmMatchesScalarForEveryBatchSize(GgmlType type) {
    int rows = 37;
    int cols = 512;
    Tensor w = randomTensor(type, rows, cols, 2);
    float[] scratch = new float[VectorKernels.scratchFloats(cols)];
    float[] rowBuf = new float[cols];
    for (int n : new int[] {1, 2, 3, 4, 5, 8, 9}) {
      float[] x = randomFloats(n * cols, n);
      float[] expect = new float[n * rows];
      float[] got = new float[n * rows];
      ScalarKernels.gemm(w, x, cols, n, expect, rows, 0, rows, scratch);
      // Two row ranges, as two threads would split them.
      VectorKernels.gemm(w, x, cols, n, got, rows, 0, 20, scratch);
      VectorKernels.gemm(w, x, cols, n, got, rows, 20, rows, scratch);
      for (int t = 0; t < n; t++) {
        for (int r = 0; r < rows; r++) {
          ScalarKernels.dequantizeRow(w, r, rowBuf, 0);
          double mag = 0;
          for (int k = 0; k < cols; k++) {
            mag += Math.abs(rowBuf[k] * x[t * cols + k]);
          }
          assertThat((double) got[t * rows + r])
              .as("%s n=%d t=%d r=%d", type, n, t, r)
              .isCloseTo(
                  expect[t * rows + r], org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-6));
        }
      }
    }
  }

  @Test
  void elementwiseKernelsMatchScalar() {
    for (int len : new int[] {1, 7, 16, 64, 100, 2048}) {
      float[] x = randomFloats(len, len);
      float[] y = randomFloats(len, len + 1);
      float[] weight = randomFloats(len, len + 2);
      assertThat(VectorKernels.dot(x, 0, y, 0, len))
          .isCloseTo(
              ScalarKernels.dot(x, 0, y, 0, len), org.assertj.core.data.Offset.offset(len * 1e-5f));

      float[] a = new float[len];
      float[] b = new float[len];
      ScalarKernels.rmsNorm(a, 0, x, 0, weight, len, 1e-5f);
      VectorKernels.rmsNorm(b, 0, x, 0, weight, len, 1e-5f);
      assertClose(b, a, 1e-5f);

      a = x.clone();
      b = x.clone();
      ScalarKernels.siluMul(a, 0, y, 0, len);
      VectorKernels.siluMul(b, 0, y, 0, len);
      assertClose(b, a, 1e-5f);

      a = x.clone();
      b = x.clone();
      ScalarKernels.softmax(a, 0, len);
      VectorKernels.softmax(b, 0, len);
      assertClose(b, a, 1e-5f);

      a = x.clone();
      b = x.clone();
      ScalarKernels.axpy(a, 0, y, 0, 0.37f, len);
      VectorKernels.axpy(b, 0, y, 0, 0.37f, len);
      assertClose(b, a, 1e-6f);
      ScalarKernels.add(a, 0, y, 0, len);
      VectorKernels.add(b, 0, y, 0, len);
      assertClose(b, a, 1e-6f);
    }
  }

  static void assertClose(float[] got, float[] expect, float rel) {
    for (int i = 0; i < expect.length; i++) {
      assertThat(got[i])
          .as("element %d", i)
          .isCloseTo(
              expect[i], org.assertj.core.data.Offset.offset(rel * (1 + Math.abs(expect[i]))));
    }
  }

  /**
   * The fused Q8_0 path (2-4 tokens) and the scratch path (more tokens) agree to rounding: a
   * token's result barely depends on the size of the batch it ran in. Not bit for bit: the kernels
   * are compiled at different times, and reduceLanes(ADD) adds the lanes in another order in the
   * interpreter and C1 than in C2's intrinsic.
   */
  @Test
  void q8FusedAndScratchPathsAgree() {
    int rows = 37;
    int cols = 256;
    Tensor w = randomTensor(GgmlType.Q8_0, rows, cols, 11);
    float[] x = randomFloats(9 * cols, 12);
    float[] scratch = new float[VectorKernels.scratchFloats(cols)];
    float[] ref = new float[9 * rows];
    VectorKernels.gemm(w, x, cols, 9, ref, rows, 0, rows, scratch);
    for (int n = 2; n <= 8; n++) {
      float[] got = new float[n * rows];
      VectorKernels.gemm(w, x, cols, n, got, rows, 0, rows, scratch);
      assertClose(got, Arrays.copyOf(ref, n * rows), 1e-5f);
    }
  }

  @ParameterizedTest
  @EnumSource(KvBlockPool.Dtype.class)
  void attentionMatchesScalar(KvBlockPool.Dtype dtype) {
    int blockSize = 16;
    int hd = 32;
    try (KvBlockPool pool = new KvBlockPool(8, blockSize, 2, 2, hd, dtype)) {
      int[] table = {5, 2, 7};
      int n = 41;
      Random rnd = new Random(3);
      for (int p = 0; p < n; p++) {
        float[] k = randomFloats(2 * hd, rnd.nextLong());
        float[] v = randomFloats(2 * hd, rnd.nextLong());
        Attention.store(pool, 1, table[p / blockSize], p % blockSize, k, 0, v, 0);
      }
      // A group of query heads sharing kv head 1: 1 to 6 heads covers the 4-head fast path, the
      // single-head remainder, and both together.
      for (int heads = 1; heads <= 6; heads++) {
        float[] q = randomFloats(heads * hd, 9 + heads);
        for (int len : new int[] {1, 16, 17, n}) {
          float[] expect = new float[heads * hd];
          float[] got = new float[heads * hd];
          for (int h = 0; h < heads; h++) {
            Attention.attendScalar(
                pool, 1, table, 1, len, q, h * hd, 0.2f, expect, h * hd, new float[n]);
          }
          Attention.attendVector(
              pool,
              1,
              table,
              1,
              len,
              heads,
              q,
              0,
              0.2f,
              got,
              0,
              new float[heads * n],
              new float[blockSize * hd]);
          assertClose(got, expect, 1e-5f);
        }
      }
    }
  }

  @Test
  void parallelRunsEveryPartAndPropagatesFailures() {
    try (Parallel p = new Parallel(3)) {
      for (int round = 0; round < 1000; round++) {
        int[] hits = new int[3];
        p.run(t -> hits[t]++);
        assertThat(hits).containsExactly(1, 1, 1);
      }
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  p.run(
                      t -> {
                        if (t == 2) {
                          throw new IllegalStateException("boom");
                        }
                      }))
          .hasMessage("boom");
      int[] after = new int[3];
      p.run(t -> after[t]++);
      assertThat(after).containsExactly(1, 1, 1);
    }
    assertThat(Parallel.split(10, 3, 0)).isZero();
    assertThat(Parallel.split(10, 3, 3)).isEqualTo(10);
  }
}
