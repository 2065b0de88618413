package dev.baton.engine.kernel;

/**
 * Entry point to the compute kernels: the Vector API path by default, the scalar twins when {@code
 * -Dbaton.kernels=scalar} is set (or the CPU's vectors do not fit the kernels' layout).
 */
public final class Kernels {

  /** True when the Vector API kernels run; false forces the scalar twins. */
  public static final boolean VECTOR =
      !"scalar".equalsIgnoreCase(System.getProperty("baton.kernels", "vector"))
          && VectorKernels.usable();

  private Kernels() {}

  /** Which kernels run, for logs and benchmark reports. */
  public static String describe() {
    return VECTOR ? "vector(" + VectorKernels.F.vectorBitSize() + "-bit)" : "scalar";
  }

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
    if (VECTOR) {
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
