package dev.baton.engine.kernel;

import dev.baton.model.GgmlType;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The native Q8_0 kernels ({@code src/main/c/baton_kernels.c}, built by the module's build with the
 * machine's C compiler) called through FFM: activations quantized to int8 per 32-element block and
 * multiplied with AVX-512 VNNI integer dot products. Loaded once; {@link #available()} is false
 * (with {@link #status()} saying why) where the library was not built, the platform is not x86-64
 * Linux or the CPU lacks the instructions, and {@link Kernels} then uses the Vector API kernels.
 *
 * <p>Results differ from the float kernels by the activation rounding (as llama.cpp's, whose Q8_0
 * path quantizes activations the same way); {@link ScalarKernels#gemmQ8Activations} is the oracle
 * that agrees with them to float rounding.
 */
@SuppressWarnings("restricted") // loading a library and linking to it: the point of this class
public final class NativeKernels {

  static final String RESOURCE = "/native/linux-x86_64/libbaton_kernels.so";

  private static final MethodHandle GEMM;
  private static final MethodHandle GEMM_PACKED;
  private static final MethodHandle PACK;
  private static final MethodHandle PACKED_BYTES;
  private static final MethodHandle ALLOC;
  private static final MethodHandle FREE;
  private static final MethodHandle QUANTIZE;

  /** Rows per group of the packed layout: packed products take row ranges in whole groups. */
  public static final int PACK_ROWS = 16;

  private static final String STATUS;

  static {
    MethodHandle gemm = null;
    MethodHandle gemmPacked = null;
    MethodHandle pack = null;
    MethodHandle packedBytes = null;
    MethodHandle alloc = null;
    MethodHandle free = null;
    MethodHandle quantize = null;
    String status;
    try {
      SymbolLookup lib = load();
      Linker linker = Linker.nativeLinker();
      // critical(true): short calls that may read and write heap arrays in place (no copies).
      Linker.Option critical = Linker.Option.critical(true);
      MethodHandle level =
          linker.downcallHandle(
              lib.findOrThrow("baton_cpu_level"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
      if ((int) level.invokeExact() < 1) {
        status = "unavailable: the CPU lacks AVX-512 VNNI";
      } else {
        gemm =
            linker.downcallHandle(
                lib.findOrThrow("baton_gemm_q8_0"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT),
                critical);
        gemmPacked =
            linker.downcallHandle(
                lib.findOrThrow("baton_gemm_q8_0_packed"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT),
                critical);
        // Packing runs once per matrix at load and may take a while: an ordinary call.
        pack =
            linker.downcallHandle(
                lib.findOrThrow("baton_pack_q8_0"),
                FunctionDescriptor.ofVoid(
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS));
        packedBytes =
            linker.downcallHandle(
                lib.findOrThrow("baton_packed_bytes"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        alloc =
            linker.downcallHandle(
                lib.findOrThrow("baton_alloc_packed"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        free =
            linker.downcallHandle(
                lib.findOrThrow("baton_free_packed"),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        quantize =
            linker.downcallHandle(
                lib.findOrThrow("baton_quantize_q8"),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS),
                critical);
        status = "avx512-vnni";
      }
    } catch (Throwable t) {
      status = "unavailable: " + t.getMessage();
    }
    GEMM = gemm;
    GEMM_PACKED = gemmPacked;
    PACK = pack;
    PACKED_BYTES = packedBytes;
    ALLOC = alloc;
    FREE = free;
    QUANTIZE = quantize;
    STATUS = status;
  }

  private NativeKernels() {}

  /** True when the native kernels are loaded and the CPU runs them. */
  public static boolean available() {
    return GEMM != null;
  }

  /** "avx512-vnni", or "unavailable: why". */
  public static String status() {
    return STATUS;
  }

  /** True when {@link #gemmQ8} takes this matrix (Q8_0 rows of whole 64-element pairs). */
  static boolean supports(Tensor w) {
    return w.type() == GgmlType.Q8_0 && w.cols() % 64 == 0;
  }

  /**
   * True when {@link #gemmQ8} takes rows {@code r0..r1} of this matrix: from its packed copy (whole
   * groups of rows) or from its Q8_0 blocks.
   */
  static boolean takes(Tensor w, int r0, int r1) {
    return w.packed() != null && r0 % PACK_ROWS == 0 && r1 % PACK_ROWS == 0 || supports(w);
  }

  /** True when {@link #pack} takes this matrix (Q8_0, whole groups of 16 rows). */
  static boolean packable(Tensor w) {
    return w.type() == GgmlType.Q8_0 && w.rows() % PACK_ROWS == 0;
  }

  /**
   * The matrix with a packed copy of its weights in {@code arena} (16 rows interleaved per
   * 32-column block, quants made unsigned; the same size as the Q8_0 blocks), which {@link #gemmQ8}
   * then reads instead of {@code data} for row ranges in whole groups of 16.
   */
  static Tensor pack(Tensor w, Arena arena) {
    if (!packable(w)) {
      throw new IllegalArgumentException(w.name() + ": cannot pack " + w.type() + " " + w.rows());
    }
    try {
      long bytes = packedBytes(w.rows(), w.cols());
      MemorySegment raw = (MemorySegment) ALLOC.invokeExact(bytes);
      if (raw.equals(MemorySegment.NULL)) {
        throw new OutOfMemoryError(w.name() + ": no memory for a packed copy of " + bytes + " B");
      }
      MemorySegment packed = raw.reinterpret(bytes, arena, NativeKernels::free);
      PACK.invokeExact(w.data(), w.rowBytes(), w.rows(), w.cols(), packed);
      return new Tensor(w.name(), w.data(), w.type(), w.rows(), w.cols(), packed);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static long packedBytes(int rows, int cols) {
    try {
      return (long) PACKED_BYTES.invokeExact(rows, cols);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static void free(MemorySegment packed) {
    try {
      FREE.invokeExact(packed);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private static SymbolLookup load() throws IOException {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "");
    if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      throw new IOException("built for x86-64 Linux only, this is " + os + "/" + arch);
    }
    try (InputStream in = NativeKernels.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IOException("the library was not built (no C compiler at build time?)");
      }
      // Copied out of the jar (or classes folder) so that a rebuild cannot change a loaded file.
      Path file = Files.createTempFile("baton-kernels", ".so");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      return SymbolLookup.libraryLookup(file, Arena.global());
    }
  }

  /**
   * {@code out[t * outStride + r] = W[r, :] . q8(x[t * xStride ..])} for rows {@code r0 <= r < r1}
   * and tokens {@code t < n}, where {@code q8} rounds each 32-element block of the activations to
   * int8 with its own scale. Reads the packed copy when there is one and the rows are whole groups
   * of {@link #PACK_ROWS}.
   */
  static void gemmQ8(
      Tensor w, float[] x, int xStride, int n, float[] out, int outStride, int r0, int r1) {
    if (!takes(w, r0, r1) || r0 < 0 || r1 > w.rows() || r0 > r1 || n < 1) {
      throw new IllegalArgumentException(
          w.name() + ": native Q8_0 product of rows " + r0 + ".." + r1 + " x " + n + " tokens");
    }
    if ((long) (n - 1) * xStride + w.cols() > x.length
        || (long) (n - 1) * outStride + r1 > out.length) {
      throw new IllegalArgumentException(w.name() + ": input or output array too short");
    }
    int rc;
    try {
      boolean whole = r0 % PACK_ROWS == 0 && r1 % PACK_ROWS == 0;
      if (w.packed() != null && whole) {
        if (w.packed().byteSize() < packedBytes(w.rows(), w.cols())) {
          throw new IllegalArgumentException(w.name() + ": packed copy too short");
        }
        // The address as a number: a segment argument would make each call acquire and release
        // the arena's session, an atomic counter both compute threads bounce between them (3 % of
        // decode samples). The runner keeps the arena open for as long as it runs products.
        rc =
            (int)
                GEMM_PACKED.invokeExact(
                    w.packed().address(),
                    w.cols(),
                    MemorySegment.ofArray(x),
                    xStride,
                    n,
                    MemorySegment.ofArray(out),
                    outStride,
                    r0,
                    r1);
      } else {
        rc =
            (int)
                GEMM.invokeExact(
                    w.data(),
                    w.rowBytes(),
                    w.cols(),
                    MemorySegment.ofArray(x),
                    xStride,
                    n,
                    MemorySegment.ofArray(out),
                    outStride,
                    r0,
                    r1);
      }
    } catch (IllegalArgumentException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("native Q8_0 product failed", t);
    }
    if (rc != 0) {
      throw new OutOfMemoryError("native kernels: no memory for " + n + " quantized tokens");
    }
  }

  /**
   * The native activation quantization alone (for the tests): {@code q} gets {@code n * cols}
   * quants, {@code d} and {@code sums} one scale and one quant sum per 32-element block.
   */
  static void quantize(float[] x, int xStride, int n, int cols, byte[] q, float[] d, int[] sums) {
    if (cols % 64 != 0
        || (long) (n - 1) * xStride + cols > x.length
        || q.length < n * cols
        || d.length < n * cols / 32
        || sums.length < n * cols / 32) {
      throw new IllegalArgumentException("quantize: bad shape");
    }
    try {
      int rc =
          (int)
              QUANTIZE.invokeExact(
                  MemorySegment.ofArray(x),
                  xStride,
                  n,
                  cols,
                  MemorySegment.ofArray(q),
                  MemorySegment.ofArray(d),
                  MemorySegment.ofArray(sums));
      if (rc != 0) {
        throw new OutOfMemoryError("native kernels: no memory to quantize");
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
