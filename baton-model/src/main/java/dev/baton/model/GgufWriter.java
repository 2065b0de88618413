package dev.baton.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Writes GGUF v3 files: metadata in insertion order, then tensors. Tensor data comes either as
 * bytes or from a {@link TensorFiller} that writes straight into the memory-mapped output, so
 * multi-gigabyte models stream to disk without passing through the heap. The output appears
 * atomically (written to a temporary file, then moved).
 */
public final class GgufWriter {

  /** Produces one tensor's bytes into {@code dst}, which is exactly the tensor's byte size. */
  @FunctionalInterface
  public interface TensorFiller {
    void fill(MemorySegment dst);
  }

  private record Entry(GgufValueType type, GgufValueType elementType, Object value) {}

  private record Tensor(
      String name, GgmlType type, long[] shape, long bytes, TensorFiller filler) {}

  private final Map<String, Entry> metadata = new LinkedHashMap<>();
  private final List<Tensor> tensors = new ArrayList<>();
  private int alignment = GgufFile.DEFAULT_ALIGNMENT;
  private boolean parallelFill = true;

  /** Puts a scalar value of {@code type}; the Java value must fit the type (any Number works). */
  public GgufWriter put(String key, GgufValueType type, Object value) {
    if (type == GgufValueType.ARRAY) {
      throw new IllegalArgumentException("use putArray for arrays");
    }
    metadata.put(key, new Entry(type, null, value));
    if (key.equals("general.alignment")) {
      alignment = ((Number) value).intValue();
    }
    return this;
  }

  /**
   * Puts an array: {@code array} is a Java array (primitive or {@code String[]}) or a List whose
   * elements fit {@code elementType}.
   */
  public GgufWriter putArray(String key, GgufValueType elementType, Object array) {
    metadata.put(key, new Entry(GgufValueType.ARRAY, elementType, array));
    return this;
  }

  public GgufWriter putString(String key, String value) {
    return put(key, GgufValueType.STRING, value);
  }

  public GgufWriter putUInt32(String key, long value) {
    return put(key, GgufValueType.UINT32, value);
  }

  public GgufWriter putInt32(String key, int value) {
    return put(key, GgufValueType.INT32, value);
  }

  public GgufWriter putFloat32(String key, float value) {
    return put(key, GgufValueType.FLOAT32, value);
  }

  public GgufWriter putBool(String key, boolean value) {
    return put(key, GgufValueType.BOOL, value);
  }

  public GgufWriter putStringArray(String key, List<String> values) {
    return putArray(key, GgufValueType.STRING, values.toArray(String[]::new));
  }

  public GgufWriter putInt32Array(String key, int[] values) {
    return putArray(key, GgufValueType.INT32, values);
  }

  public GgufWriter putFloat32Array(String key, float[] values) {
    return putArray(key, GgufValueType.FLOAT32, values);
  }

  /** Copies every metadata entry of {@code file} (keeping the value types). */
  public GgufWriter putAll(GgufFile file) {
    for (Map.Entry<String, Object> e : file.metadata().entrySet()) {
      GgufValueType t = file.metadataType(e.getKey());
      if (t == GgufValueType.ARRAY) {
        putArray(e.getKey(), arrayElementType(e.getValue()), e.getValue());
      } else {
        put(e.getKey(), t, e.getValue());
      }
    }
    return this;
  }

  private static GgufValueType arrayElementType(Object a) {
    return switch (a) {
      case byte[] x -> GgufValueType.INT8;
      case short[] x -> GgufValueType.INT16;
      case int[] x -> GgufValueType.INT32;
      case long[] x -> GgufValueType.INT64;
      case float[] x -> GgufValueType.FLOAT32;
      case double[] x -> GgufValueType.FLOAT64;
      case boolean[] x -> GgufValueType.BOOL;
      case String[] x -> GgufValueType.STRING;
      default -> throw new IllegalArgumentException("cannot copy nested array metadata");
    };
  }

  /** Adds a tensor whose bytes (already in {@code type}'s layout) are {@code data}. */
  public GgufWriter addTensor(String name, GgmlType type, long[] shape, byte[] data) {
    long bytes = tensorBytes(name, type, shape);
    if (data.length != bytes) {
      throw new IllegalArgumentException(
          "tensor " + name + " needs " + bytes + " bytes, got " + data.length);
    }
    byte[] copy = data.clone();
    return addTensor(
        name,
        type,
        shape,
        dst -> MemorySegment.copy(MemorySegment.ofArray(copy), 0, dst, 0, bytes));
  }

  /** Adds a float tensor, quantized to {@code type}. */
  public GgufWriter addTensor(String name, GgmlType type, long[] shape, float[] values) {
    return addTensor(name, type, shape, GgmlQuant.quantize(type, values));
  }

  /** Adds a tensor whose bytes {@code filler} writes when the file is written. */
  public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorFiller filler) {
    for (Tensor t : tensors) {
      if (t.name.equals(name)) {
        throw new IllegalArgumentException("duplicate tensor " + name);
      }
    }
    tensors.add(new Tensor(name, type, shape.clone(), tensorBytes(name, type, shape), filler));
    return this;
  }

  private static long tensorBytes(String name, GgmlType type, long[] shape) {
    if (shape.length < 1 || shape.length > 4) {
      throw new IllegalArgumentException("tensor " + name + " must have 1..4 dimensions");
    }
    if (shape[0] % type.blockSize != 0) {
      throw new IllegalArgumentException(
          "tensor "
              + name
              + ": row length "
              + shape[0]
              + " is not a multiple of "
              + type.blockSize);
    }
    long n = 1;
    for (long d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException("tensor " + name + " has dimension " + d);
      }
      n = Math.multiplyExact(n, d);
    }
    return type.bytesFor(n);
  }

  /** Whether tensors are filled in parallel (default true; fillers must be thread-safe then). */
  public GgufWriter parallelFill(boolean parallel) {
    this.parallelFill = parallel;
    return this;
  }

  /** Number of tensors added. */
  public int tensorCount() {
    return tensors.size();
  }

  /** Total bytes of the file {@link #write} produces. */
  public long fileSize() {
    byte[] header = header();
    return GgufFile.align(header.length, alignment) + dataSize();
  }

  private long dataSize() {
    long off = 0;
    for (Tensor t : tensors) {
      off = GgufFile.align(off, alignment) + t.bytes;
    }
    return off;
  }

  /** Writes the file to {@code out} (atomically: temp file in the same folder, then move). */
  public void write(Path out) {
    byte[] header = header();
    long dataStart = GgufFile.align(header.length, alignment);
    long[] offsets = new long[tensors.size()];
    long off = 0;
    for (int i = 0; i < tensors.size(); i++) {
      off = GgufFile.align(off, alignment);
      offsets[i] = off;
      off += tensors.get(i).bytes;
    }
    long total = dataStart + off;
    Path abs = out.toAbsolutePath();
    Path dir = abs.getParent();
    try {
      if (dir != null) {
        Files.createDirectories(dir);
      }
      Path tmp = Files.createTempFile(dir, abs.getFileName().toString(), ".tmp");
      try {
        try (FileChannel ch =
                FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE);
            Arena arena = Arena.ofShared()) {
          MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
          MemorySegment.copy(header, 0, seg, ValueLayout.JAVA_BYTE, 0, header.length);
          IntStream range = IntStream.range(0, tensors.size());
          (parallelFill ? range.parallel() : range)
              .forEach(
                  i -> {
                    Tensor t = tensors.get(i);
                    t.filler.fill(seg.asSlice(dataStart + offsets[i], t.bytes));
                  });
        }
        try {
          // createTempFile makes the file owner-only; a model file is ordinary data.
          Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system: keep the default permissions
        }
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
    }
  }

  /** Header, metadata and tensor infos (not padded). */
  private byte[] header() {
    Buf b = new Buf();
    b.u32(GgufFile.MAGIC);
    b.u32(3);
    b.u64(tensors.size());
    b.u64(metadata.size());
    for (Map.Entry<String, Entry> e : metadata.entrySet()) {
      b.string(e.getKey());
      Entry v = e.getValue();
      b.u32(v.type.id);
      if (v.type == GgufValueType.ARRAY) {
        b.u32(v.elementType.id);
        Object arr = v.value instanceof List<?> l ? l.toArray() : v.value;
        int n = java.lang.reflect.Array.getLength(arr);
        b.u64(n);
        for (int i = 0; i < n; i++) {
          b.scalar(v.elementType, java.lang.reflect.Array.get(arr, i));
        }
      } else {
        b.scalar(v.type, v.value);
      }
    }
    long off = 0;
    for (Tensor t : tensors) {
      off = GgufFile.align(off, alignment);
      b.string(t.name);
      b.u32(t.shape.length);
      for (long d : t.shape) {
        b.u64(d);
      }
      b.u32(t.type.id);
      b.u64(off);
      off += t.bytes;
    }
    return b.toByteArray();
  }

  /** Little-endian growable byte buffer. */
  private static final class Buf extends java.io.ByteArrayOutputStream {
    void u8(int v) {
      write(v);
    }

    void u16(int v) {
      write(v);
      write(v >>> 8);
    }

    void u32(int v) {
      u16(v);
      u16(v >>> 16);
    }

    void u64(long v) {
      u32((int) v);
      u32((int) (v >>> 32));
    }

    void string(String s) {
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      u64(bytes.length);
      write(bytes, 0, bytes.length);
    }

    void scalar(GgufValueType type, Object v) {
      switch (type) {
        case UINT8, INT8 -> u8(toLong(v).intValue());
        case UINT16, INT16 -> u16(toLong(v).intValue());
        case UINT32, INT32 -> u32(toLong(v).intValue());
        case UINT64, INT64 -> u64(toLong(v));
        case FLOAT32 -> u32(Float.floatToRawIntBits(((Number) v).floatValue()));
        case FLOAT64 -> u64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
        case BOOL -> u8(((Boolean) v) ? 1 : 0);
        case STRING -> string((String) v);
        case ARRAY -> throw new IllegalArgumentException("nested arrays are not written");
      }
    }

    private static Long toLong(Object v) {
      if (v instanceof Boolean b) {
        return b ? 1L : 0L;
      }
      return ((Number) v).longValue();
    }
  }
}
