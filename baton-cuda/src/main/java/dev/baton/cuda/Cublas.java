package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS through the FFM API: one handle and the one call the forward pass needs, a row-major
 * linear layer {@code y (n x out) = x (n x in) . W^T} with W stored {@code (out x in)} row-major as
 * GGUF stores it, optionally accumulated into y ({@code beta = 1}: the residual add for free).
 */
@SuppressWarnings("restricted") // binding native libraries is this class's job
public final class Cublas implements AutoCloseable {

  /** {@code cudaDataType}: CUDA_R_32F. */
  public static final int R_32F = 0;

  /** {@code cudaDataType}: CUDA_R_16F. */
  public static final int R_16F = 2;

  /** {@code cudaDataType}: CUDA_R_16BF. */
  public static final int R_16BF = 14;

  private static final int OP_N = 0;
  private static final int OP_T = 1;
  private static final int COMPUTE_32F = 68;
  private static final int COMPUTE_32F_PEDANTIC = 69;
  private static final int GEMM_DEFAULT = -1;

  private final MethodHandle gemmEx;
  private final MethodHandle gemmStridedBatchedEx;
  private final MethodHandle destroy;
  private final MethodHandle setStream;
  private final MethodHandle setWorkspace;
  private final MemorySegment handle;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment one;
  private final MemorySegment zero;

  private Cublas(SymbolLookup lib) {
    MethodHandle create = CudaDriver.fn(lib, "cublasCreate_v2", ADDRESS);
    destroy = CudaDriver.fn(lib, "cublasDestroy_v2", ADDRESS);
    setStream = CudaDriver.fn(lib, "cublasSetStream_v2", ADDRESS, ADDRESS);
    setWorkspace = CudaDriver.fn(lib, "cublasSetWorkspace_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
    gemmEx =
        CudaDriver.fn(
            lib,
            "cublasGemmEx",
            ADDRESS,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            ADDRESS,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            ADDRESS,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT);
    gemmStridedBatchedEx =
        CudaDriver.fn(
            lib,
            "cublasGemmStridedBatchedEx",
            ADDRESS,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            ADDRESS,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_LONG,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_LONG,
            ADDRESS,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_LONG,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT);
    MemorySegment h = arena.allocate(ADDRESS);
    try {
      check((int) create.invokeExact(h), "cublasCreate");
    } catch (CudaException e) {
      throw e;
    } catch (Throwable e) {
      throw new CudaException("cublasCreate: " + e);
    }
    handle = h.get(ADDRESS, 0);
    one = arena.allocateFrom(JAVA_FLOAT, 1f);
    zero = arena.allocateFrom(JAVA_FLOAT, 0f);
  }

  /** Opens cuBLAS (cuBLASLt first, which it links against) on the current context. */
  public static Cublas load(CudaLibraries libs) {
    SymbolLookup.libraryLookup(libs.cublasLt(), Arena.global());
    return new Cublas(SymbolLookup.libraryLookup(libs.cublas(), Arena.global()));
  }

  /**
   * Runs every call on {@code stream} with a fixed {@code bytes} workspace at {@code workspace}:
   * cuBLAS then allocates nothing while a CUDA graph records it.
   */
  public void use(MemorySegment stream, long workspace, long bytes) {
    try {
      check((int) setStream.invokeExact(handle, stream), "cublasSetStream");
      check((int) setWorkspace.invokeExact(handle, workspace, bytes), "cublasSetWorkspace");
    } catch (CudaException e) {
      throw e;
    } catch (Throwable e) {
      throw new CudaException("cublasSetStream: " + e);
    }
  }

  /**
   * {@code y[t][o] (+)= sum_i x[t][i] * w[o][i]} for {@code t < n}, {@code o < out}, {@code i <
   * in}; {@code x} and {@code w} have type {@code inType}, {@code y} is fp32 (row stride {@code
   * ldy}). fp32 inputs compute without TF32, so they match the CPU to rounding.
   */
  public void linear(
      long w, long x, long y, int n, int out, int in, int inType, int ldy, boolean accumulate) {
    // Column-major view: W^T is (in x out) with ld in, x^T is (in x n), y^T is (out x n).
    int compute = inType == R_32F ? COMPUTE_32F_PEDANTIC : COMPUTE_32F;
    // A local, not a conditional in the call: invokeExact types a conditional argument as Object.
    MemorySegment beta = accumulate ? one : zero;
    int r;
    try {
      r =
          (int)
              gemmEx.invokeExact(
                  handle,
                  OP_T,
                  OP_N,
                  out,
                  n,
                  in,
                  one,
                  w,
                  inType,
                  in,
                  x,
                  inType,
                  in,
                  beta,
                  y,
                  R_32F,
                  ldy,
                  compute,
                  GEMM_DEFAULT);
    } catch (Throwable e) {
      throw new CudaException("cublasGemmEx: " + e);
    }
    check(r, "cublasGemmEx(" + out + "x" + in + " by " + n + " rows)");
  }

  /**
   * {@code batch} column-major products {@code C_i (m x n) = op(A_i) . op(B_i)}, {@code A_i = a + i
   * * strideA} elements and likewise for B, C; A and B have type {@code inType}, C {@code outType}
   * (fp32 accumulation either way). {@code transA}/{@code transB}: whether op transposes.
   */
  public void stridedBatched(
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      long a,
      int lda,
      long strideA,
      long b,
      int ldb,
      long strideB,
      long c,
      int ldc,
      long strideC,
      int batch,
      int inType,
      int outType) {
    int compute = inType == R_32F ? COMPUTE_32F_PEDANTIC : COMPUTE_32F;
    int r;
    try {
      r =
          (int)
              gemmStridedBatchedEx.invokeExact(
                  handle,
                  transA ? OP_T : OP_N,
                  transB ? OP_T : OP_N,
                  m,
                  n,
                  k,
                  one,
                  a,
                  inType,
                  lda,
                  strideA,
                  b,
                  inType,
                  ldb,
                  strideB,
                  zero,
                  c,
                  outType,
                  ldc,
                  strideC,
                  batch,
                  compute,
                  GEMM_DEFAULT);
    } catch (Throwable e) {
      throw new CudaException("cublasGemmStridedBatchedEx: " + e);
    }
    check(r, "cublasGemmStridedBatchedEx(" + m + "x" + n + "x" + k + " x" + batch + ")");
  }

  private static void check(int status, String what) {
    if (status != 0) {
      throw new CudaException(what + " failed: cuBLAS status " + status);
    }
  }

  @Override
  public void close() {
    try {
      int r = (int) destroy.invokeExact(handle);
      check(r, "cublasDestroy");
    } catch (CudaException e) {
      throw e;
    } catch (Throwable e) {
      throw new CudaException("cublasDestroy: " + e);
    }
    arena.close();
  }
}
