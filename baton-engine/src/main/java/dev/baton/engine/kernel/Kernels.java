package dev.baton.engine.kernel;

/**
 * Entry point to the compute kernels. {@code -Dbaton.kernels=} picks them: {@code native} (the
 * default) runs Q8_0 matrix products in {@link NativeKernels} where that library was built and the
 * CPU has AVX-512 VNNI, and everything else in the Vector API kernels; {@code vector} uses the
 * Vector API kernels throughout; {@code scalar} the scalar twins (also used where the CPU's vectors
 * do not fit the kernels' layout).
 */
public final class Kernels {

  private static final String CHOICE =
      System.getProperty("baton.kernels", "native").toLowerCase(java.util.Locale.ROOT);

  /** True when the Vector API kernels run; false forces the scalar twins. */
  public static final boolean VECTOR = !"scalar".equals(CHOICE) && VectorKernels.usable();

  /** True when Q8_0 matrix products run in the native library. */
  public static final boolean NATIVE =
      VECTOR && "native".equals(CHOICE) && NativeKernels.available();

  private Kernels() {}

  /** Which kernels run, for logs and benchmark reports. */
  public static String describe() {
    if (!VECTOR) {
      return "scalar";
    }
    String vector = "vector(" + VectorKernels.F.vectorBitSize() + "-bit)";
    return NATIVE ? "native(" + NativeKernels.status() + ")+" + vector : vector;
  }

  /**
   * The matrix as the kernels want it: with the native kernels, Q8_0 matrices get a packed copy in
   * {@code arena} (read instead of the file's blocks); otherwise {@code w} itself.
   */
  public static Tensor prepare(Tensor w, java.lang.foreign.Arena arena) {
    return NATIVE && NativeKernels.packable(w) ? NativeKernels.pack(w, arena) : w;
  }

  /** Row ranges given to {@link #gemm} should start and end at multiples of this. */
  public static final int ROW_UNIT = NativeKernels.PACK_ROWS;

  /** Scratch floats {@link #gemm} needs for matrices of up to {@code maxCols} columns. */
  public static int scratchFloats(int maxCols) {
    return VectorKernels.scratchFloats(maxCols);
  }

  /** {@code out[t * outStride + r] = W[r, :] . x[t * xStride ..]} for {@code r0 <= r < r1}. */
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
    if (NATIVE && NativeKernels.takes(w, r0, r1)) {
      NativeKernels.gemmQ8(w, x, xStride, n, out, outStride, r0, r1);
    } else if (VECTOR) {
      VectorKernels.gemm(w, x, xStride, n, out, outStride, r0, r1, scratch);
    } else {
      ScalarKernels.gemm(w, x, xStride, n, out, outStride, r0, r1, scratch);
    }
  }

  public static void dequantizeRow(Tensor w, int row, float[] out, int off) {
    if (VECTOR && w.cols() % VectorKernels.L == 0) {
      VectorKernels.dequantizeRow(w, row, out, off);
    } else {
      ScalarKernels.dequantizeRow(w, row, out, off);
    }
  }

  public static float dot(float[] a, int ao, float[] b, int bo, int len) {
    return VECTOR ? VectorKernels.dot(a, ao, b, bo, len) : ScalarKernels.dot(a, ao, b, bo, len);
  }

  public static void rmsNorm(
      float[] out, int oo, float[] x, int xo, float[] weight, int len, float eps) {
    if (VECTOR) {
      VectorKernels.rmsNorm(out, oo, x, xo, weight, len, eps);
    } else {
      ScalarKernels.rmsNorm(out, oo, x, xo, weight, len, eps);
    }
  }

  public static void siluMul(float[] gate, int go, float[] up, int uo, int len) {
    if (VECTOR) {
      VectorKernels.siluMul(gate, go, up, uo, len);
    } else {
      ScalarKernels.siluMul(gate, go, up, uo, len);
    }
  }

  public static void add(float[] y, int yo, float[] x, int xo, int len) {
    if (VECTOR) {
      VectorKernels.add(y, yo, x, xo, len);
    } else {
      ScalarKernels.add(y, yo, x, xo, len);
    }
  }

  public static void softmax(float[] x, int off, int len) {
    if (VECTOR) {
      VectorKernels.softmax(x, off, len);
    } else {
      ScalarKernels.softmax(x, off, len);
    }
  }
}
