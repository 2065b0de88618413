package dev.baton.engine.kernel;

import dev.baton.model.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * A 2-D weight matrix as GGUF stores it: {@code rows} rows of {@code cols} elements, each row a
 * whole number of quantization blocks, rows back to back. Shape {@code (rows, cols)}; a matmul
 * computes {@code out[r] = sum_k W[r, k] * x[k]}, so {@code cols} is the input dimension (GGUF's
 * {@code ne0}). {@code packed}, when not null, holds the same matrix repacked for the native
 * kernels ({@link NativeKernels#pack}); {@code data} stays the source of truth for every other
 * kernel.
 */
public record Tensor(
    String name, MemorySegment data, GgmlType type, int rows, int cols, MemorySegment packed) {

  public Tensor(String name, MemorySegment data, GgmlType type, int rows, int cols) {
    this(name, data, type, rows, cols, null);
  }

  public Tensor {
    if (rows <= 0 || cols <= 0) {
      throw new IllegalArgumentException(
          name + ": shape must be positive, got " + rows + "x" + cols);
    }
    if (cols % type.blockSize != 0) {
      throw new IllegalArgumentException(
          name
              + ": "
              + type
              + " rows need a multiple of "
              + type.blockSize
              + " elements, got "
              + cols);
    }
    long need = (long) rows * type.bytesFor(cols);
    if (data.byteSize() < need) {
      throw new IllegalArgumentException(
          name + ": needs " + need + " bytes of " + type + " data, has " + data.byteSize());
    }
  }

  /** Bytes of one row. */
  public long rowBytes() {
    return type.bytesFor(cols);
  }

  /** Bytes of the whole matrix (what one pass over it reads). */
  public long byteSize() {
    return rowBytes() * rows;
  }
}
