package dev.baton.model;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a GGUF file. {@code shape} is in ggml order: {@code shape[0]} (ne0) is the row
 * length, the contiguous dimension; a 2-D weight {@code [ne0, ne1]} has {@code ne1} rows of {@code
 * ne0} elements. {@code data} is a read-only view of the mapped file, valid until the file closes.
 */
public record GgufTensor(String name, GgmlType type, long[] shape, MemorySegment data) {

  public GgufTensor {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of dimensions. */
  public int dims() {
    return shape.length;
  }

  /** Size of dimension {@code i} (1 beyond the last dimension, as in ggml). */
  public long dim(int i) {
    return i < shape.length ? shape[i] : 1;
  }

  /** Total elements. */
  public long elementCount() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** Elements per row (ne0). */
  public long rowLength() {
    return shape[0];
  }

  /** Number of rows: the product of all dimensions but the first. */
  public long rows() {
    return elementCount() / shape[0];
  }

  /** Bytes per row. */
  public long rowBytes() {
    return type.bytesFor(shape[0]);
  }

  /** Bytes of tensor data. */
  public long byteSize() {
    return type.bytesFor(elementCount());
  }

  /** Row {@code r} as float values, dequantized. */
  public float[] row(long r) {
    int n = Math.toIntExact(shape[0]);
    float[] out = new float[n];
    GgmlQuant.dequantize(type, data, r * rowBytes(), out, 0, n);
    return out;
  }

  /** The whole tensor as floats (small tensors only: at most 2^31-1 elements). */
  public float[] toFloatArray() {
    int n = Math.toIntExact(elementCount());
    float[] out = new float[n];
    GgmlQuant.dequantize(type, data, 0, out, 0, n);
    return out;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GgufTensor t
        && name.equals(t.name)
        && type == t.type
        && Arrays.equals(shape, t.shape)
        && data.equals(t.data);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + type + " " + Arrays.toString(shape);
  }
}
