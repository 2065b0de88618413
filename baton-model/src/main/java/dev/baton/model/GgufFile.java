package dev.baton.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A GGUF (v2 or v3, little-endian) model file, memory-mapped read-only through the FFM API so that
 * files over 2 GiB work and tensor data is never copied onto the heap.
 *
 * <p>Metadata values are kept as Java objects: 8/16-bit integers and INT32 as {@link Integer},
 * UINT32/UINT64/INT64 as {@link Long}, FLOAT32 as {@link Float}, FLOAT64 as {@link Double}, BOOL as
 * {@link Boolean}, STRING as {@link String}; arrays as {@code byte[]} (UINT8/INT8), {@code short[]}
 * (UINT16/INT16), {@code int[]} (INT32), {@code long[]} (UINT32/UINT64/INT64), {@code float[]},
 * {@code double[]}, {@code boolean[]}, {@code String[]}, or {@code Object[]} for nested arrays. The
 * typed getters convert between integer widths.
 *
 * <p>Every malformed input (bad magic, unsupported version, truncation, unknown tensor type, data
 * out of bounds) is a {@link ModelFormatException} naming the file and the problem.
 */
public final class GgufFile implements AutoCloseable {

  /** "GGUF" as a little-endian uint32. */
  public static final int MAGIC = 0x46554747;

  /** Default alignment of tensor data when {@code general.alignment} is absent. */
  public static final int DEFAULT_ALIGNMENT = 32;

  static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfFloat F32 =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfDouble F64 =
      ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Path path;
  private final Arena arena;
  private final MemorySegment file;
  private final int version;
  private final int alignment;
  private final long dataOffset;
  private final Map<String, Object> metadata;
  private final Map<String, GgufValueType> metadataTypes;
  private final Map<String, GgufTensor> tensors;

  private GgufFile(
      Path path,
      Arena arena,
      MemorySegment file,
      int version,
      int alignment,
      long dataOffset,
      Map<String, Object> metadata,
      Map<String, GgufValueType> metadataTypes,
      Map<String, GgufTensor> tensors) {
    this.path = path;
    this.arena = arena;
    this.file = file;
    this.version = version;
    this.alignment = alignment;
    this.dataOffset = dataOffset;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.metadataTypes = Collections.unmodifiableMap(metadataTypes);
    this.tensors = Collections.unmodifiableMap(tensors);
  }

  /** Maps and parses {@code path}; a missing, unreadable or malformed file is a clear error. */
  public static GgufFile open(Path path) {
    if (!Files.exists(path)) {
      throw new ModelFormatException("model file not found: " + path);
    }
    if (Files.isDirectory(path)) {
      throw new ModelFormatException("model path is a directory, not a GGUF file: " + path);
    }
    Arena arena = Arena.ofShared();
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      MemorySegment seg =
          size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      return parse(path, arena, seg.asReadOnly(), size);
    } catch (NoSuchFileException e) {
      arena.close();
      throw new ModelFormatException("model file not found: " + path, e);
    } catch (IOException e) {
      arena.close();
      throw new ModelFormatException("cannot read model file " + path + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  private static GgufFile parse(Path path, Arena arena, MemorySegment seg, long size) {
    Reader r = new Reader(path, seg, size);
    if (size < 4 || r.u32() != MAGIC) {
      throw new ModelFormatException(path + " is not a GGUF file (bad magic)");
    }
    int version = r.u32();
    if (version != 2 && version != 3) {
      if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
        throw new ModelFormatException(path + ": big-endian GGUF files are not supported");
      }
      throw new ModelFormatException(
          path + ": unsupported GGUF version " + version + " (Baton reads versions 2 and 3)");
    }
    long tensorCount = r.u64();
    long kvCount = r.u64();
    if (tensorCount < 0 || tensorCount > size / 24 || kvCount < 0 || kvCount > size / 12) {
      throw new ModelFormatException(
          path
              + ": corrupt GGUF header (tensor count "
              + tensorCount
              + ", metadata count "
              + kvCount
              + ")");
    }
    Map<String, Object> metadata = new LinkedHashMap<>();
    Map<String, GgufValueType> types = new LinkedHashMap<>();
    for (long i = 0; i < kvCount; i++) {
      String key = r.string();
      GgufValueType type = GgufValueType.fromId(r.u32());
      metadata.put(key, r.value(type, key));
      types.put(key, type);
    }
    int alignment = DEFAULT_ALIGNMENT;
    Object a = metadata.get("general.alignment");
    if (a != null) {
      if (!(a instanceof Number n) || n.longValue() <= 0 || Long.bitCount(n.longValue()) != 1) {
        throw new ModelFormatException(path + ": invalid general.alignment " + a);
      }
      alignment = (int) n.longValue();
    }
    record Info(String name, long[] shape, GgmlType type, long offset) {}
    Info[] infos = new Info[(int) tensorCount];
    for (int i = 0; i < tensorCount; i++) {
      String name = r.string();
      int nDims = r.u32();
      if (nDims < 1 || nDims > 4) {
        throw new ModelFormatException(
            path + ": tensor " + name + " has " + nDims + " dimensions (1..4 allowed)");
      }
      long[] shape = new long[nDims];
      for (int d = 0; d < nDims; d++) {
        shape[d] = r.u64();
        if (shape[d] <= 0 || shape[d] > (1L << 40)) {
          throw new ModelFormatException(
              path + ": tensor " + name + " has invalid dimension " + shape[d]);
        }
      }
      int typeId = r.u32();
      GgmlType type;
      try {
        type = GgmlType.fromId(typeId);
      } catch (IllegalArgumentException e) {
        throw new ModelFormatException(path + ": tensor " + name + ": " + e.getMessage(), e);
      }
      long offset = r.u64();
      infos[i] = new Info(name, shape, type, offset);
    }
    long dataOffset = align(r.pos, alignment);
    Map<String, GgufTensor> tensors = new LinkedHashMap<>();
    for (Info info : infos) {
      long elements = 1;
      for (long d : info.shape) {
        elements = Math.multiplyExact(elements, d);
      }
      if (info.shape[0] % info.type.blockSize != 0) {
        throw new ModelFormatException(
            path
                + ": tensor "
                + info.name
                + " of type "
                + info.type
                + " has row length "
                + info.shape[0]
                + ", not a multiple of "
                + info.type.blockSize);
      }
      long bytes = info.type.bytesFor(elements);
      if (info.offset < 0 || info.offset % alignment != 0) {
        throw new ModelFormatException(
            path + ": tensor " + info.name + " has misaligned data offset " + info.offset);
      }
      long start = dataOffset + info.offset;
      if (start < 0 || start > size || bytes > size - start) {
        throw new ModelFormatException(
            path
                + " is truncated: tensor "
                + info.name
                + " needs bytes "
                + start
                + ".."
                + (start + bytes)
                + " but the file has "
                + size
                + " bytes");
      }
      if (tensors.containsKey(info.name)) {
        throw new ModelFormatException(path + ": duplicate tensor " + info.name);
      }
      tensors.put(
          info.name, new GgufTensor(info.name, info.type, info.shape, seg.asSlice(start, bytes)));
    }
    return new GgufFile(path, arena, seg, version, alignment, dataOffset, metadata, types, tensors);
  }

  static long align(long offset, long alignment) {
    return (offset + alignment - 1) / alignment * alignment;
  }

  /** Bounds-checked little-endian cursor over the mapped file. */
  private static final class Reader {
    private final Path path;
    private final MemorySegment seg;
    private final long size;
    long pos;

    Reader(Path path, MemorySegment seg, long size) {
      this.path = path;
      this.seg = seg;
      this.size = size;
    }

    private void need(long n) {
      if (n < 0 || n > size - pos) {
        throw new ModelFormatException(
            path + " is truncated or corrupt: needs " + n + " bytes at offset " + pos);
      }
    }

    byte u8() {
      need(1);
      return seg.get(ValueLayout.JAVA_BYTE, pos++);
    }

    short u16() {
      need(2);
      short v = seg.get(U16, pos);
      pos += 2;
      return v;
    }

    int u32() {
      need(4);
      int v = seg.get(U32, pos);
      pos += 4;
      return v;
    }

    long u64() {
      need(8);
      long v = seg.get(U64, pos);
      pos += 8;
      return v;
    }

    String string() {
      long len = u64();
      if (len < 0 || len > Integer.MAX_VALUE - 16) {
        throw new ModelFormatException(path + ": corrupt string length " + len + " at " + pos);
      }
      need(len);
      byte[] b = new byte[(int) len];
      MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, (int) len);
      pos += len;
      return new String(b, StandardCharsets.UTF_8); // malformed bytes become U+FFFD
    }

    Object value(GgufValueType type, String key) {
      return switch (type) {
        case UINT8 -> u8() & 0xff;
        case INT8 -> (int) u8();
        case UINT16 -> u16() & 0xffff;
        case INT16 -> (int) u16();
        case UINT32 -> u32() & 0xffffffffL;
        case INT32 -> u32();
        case FLOAT32 -> Float.intBitsToFloat(u32());
        case BOOL -> u8() != 0;
        case STRING -> string();
        case UINT64, INT64 -> u64();
        case FLOAT64 -> Double.longBitsToDouble(u64());
        case ARRAY -> array(key);
      };
    }

    Object array(String key) {
      GgufValueType et = GgufValueType.fromId(u32());
      long n = u64();
      long minBytes = et.scalarBytes() > 0 ? et.scalarBytes() : 8;
      if (n < 0 || n > (size - pos) / minBytes) {
        throw new ModelFormatException(
            path + " is truncated or corrupt: array " + key + " claims " + n + " elements");
      }
      int len = (int) n;
      switch (et) {
        case UINT8, INT8 -> {
          byte[] a = new byte[len];
          MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, a, 0, len);
          pos += len;
          return a;
        }
        case UINT16, INT16 -> {
          short[] a = new short[len];
          MemorySegment.copy(seg, U16, pos, a, 0, len);
          pos += 2L * len;
          return a;
        }
        case INT32 -> {
          int[] a = new int[len];
          MemorySegment.copy(seg, U32, pos, a, 0, len);
          pos += 4L * len;
          return a;
        }
        case UINT32 -> {
          long[] a = new long[len];
          for (int i = 0; i < len; i++) {
            a[i] = u32() & 0xffffffffL;
          }
          return a;
        }
        case UINT64, INT64 -> {
          long[] a = new long[len];
          MemorySegment.copy(seg, U64, pos, a, 0, len);
          pos += 8L * len;
          return a;
        }
        case FLOAT32 -> {
          float[] a = new float[len];
          MemorySegment.copy(seg, F32, pos, a, 0, len);
          pos += 4L * len;
          return a;
        }
        case FLOAT64 -> {
          double[] a = new double[len];
          MemorySegment.copy(seg, F64, pos, a, 0, len);
          pos += 8L * len;
          return a;
        }
        case BOOL -> {
          boolean[] a = new boolean[len];
          for (int i = 0; i < len; i++) {
            a[i] = u8() != 0;
          }
          return a;
        }
        case STRING -> {
          String[] a = new String[len];
          for (int i = 0; i < len; i++) {
            a[i] = string();
          }
          return a;
        }
        case ARRAY -> {
          Object[] a = new Object[len];
          for (int i = 0; i < len; i++) {
            a[i] = array(key);
          }
          return a;
        }
      }
      throw new AssertionError(et);
    }
  }

  /** The file this was read from. */
  public Path path() {
    return path;
  }

  /** GGUF version (2 or 3). */
  public int version() {
    return version;
  }

  /** Alignment of tensor data ({@code general.alignment}, default 32). */
  public int alignment() {
    return alignment;
  }

  /** Offset of the tensor data section in the file. */
  public long dataOffset() {
    return dataOffset;
  }

  /** File size in bytes. */
  public long size() {
    return file.byteSize();
  }

  /** The whole mapped file (read-only). */
  public MemorySegment segment() {
    return file;
  }

  /**
   * All metadata in file order (see the class comment for the value classes). Array values are
   * shared: do not modify them (the typed getters return copies).
   */
  public Map<String, Object> metadata() {
    return metadata;
  }

  /** The GGUF value type of metadata {@code key}, or null if absent. */
  public GgufValueType metadataType(String key) {
    return metadataTypes.get(key);
  }

  /** Whether metadata {@code key} is present. */
  public boolean has(String key) {
    return metadata.containsKey(key);
  }

  /** All tensors in file order. */
  public Map<String, GgufTensor> tensors() {
    return tensors;
  }

  /** The tensor {@code name}; a missing one is a {@link ModelFormatException} naming it. */
  public GgufTensor tensor(String name) {
    GgufTensor t = tensors.get(name);
    if (t == null) {
      throw new ModelFormatException(path + ": missing tensor " + name);
    }
    return t;
  }

  /** The tensor {@code name} if present. */
  public Optional<GgufTensor> findTensor(String name) {
    return Optional.ofNullable(tensors.get(name));
  }

  private Object required(String key) {
    Object v = metadata.get(key);
    if (v == null) {
      throw new ModelFormatException(path + ": missing metadata " + key);
    }
    return v;
  }

  private ModelFormatException wrongType(String key, String wanted) {
    return new ModelFormatException(
        path + ": metadata " + key + " is " + metadataTypes.get(key) + ", expected " + wanted);
  }

  /** String metadata; missing or of another type is a clear error. */
  public String getString(String key) {
    if (required(key) instanceof String s) {
      return s;
    }
    throw wrongType(key, "STRING");
  }

  /** String metadata or {@code fallback} when absent. */
  public String getString(String key, String fallback) {
    return has(key) ? getString(key) : fallback;
  }

  /** Integer metadata of any integer type, as a long. */
  public long getLong(String key) {
    Object v = required(key);
    if (v instanceof Integer || v instanceof Long) {
      return ((Number) v).longValue();
    }
    throw wrongType(key, "an integer");
  }

  /** Integer metadata that must fit an int. */
  public int getInt(String key) {
    long v = getLong(key);
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new ModelFormatException(path + ": metadata " + key + " = " + v + " is out of range");
    }
    return (int) v;
  }

  /** Integer metadata or {@code fallback} when absent. */
  public int getInt(String key, int fallback) {
    return has(key) ? getInt(key) : fallback;
  }

  /** Float metadata (FLOAT32, FLOAT64 or an integer). */
  public double getDouble(String key) {
    Object v = required(key);
    if (v instanceof Number n) {
      return n.doubleValue();
    }
    throw wrongType(key, "a number");
  }

  /** Float metadata as a float. */
  public float getFloat(String key) {
    return (float) getDouble(key);
  }

  /** Float metadata or {@code fallback} when absent. */
  public float getFloat(String key, float fallback) {
    return has(key) ? getFloat(key) : fallback;
  }

  /** Boolean metadata or {@code fallback} when absent. */
  public boolean getBool(String key, boolean fallback) {
    if (!has(key)) {
      return fallback;
    }
    if (metadata.get(key) instanceof Boolean b) {
      return b;
    }
    throw wrongType(key, "BOOL");
  }

  /** String-array metadata. */
  public String[] getStringArray(String key) {
    if (required(key) instanceof String[] a) {
      return a.clone();
    }
    throw wrongType(key, "an array of strings");
  }

  /** Integer-array metadata of any integer element type, as ints. */
  public int[] getIntArray(String key) {
    Object v = required(key);
    switch (v) {
      case int[] a -> {
        return a.clone();
      }
      case byte[] a -> {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
          out[i] = a[i];
        }
        return out;
      }
      case short[] a -> {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
          out[i] = a[i];
        }
        return out;
      }
      case long[] a -> {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
          out[i] = Math.toIntExact(a[i]);
        }
        return out;
      }
      default -> throw wrongType(key, "an array of integers");
    }
  }

  /** Float-array metadata (FLOAT32 or FLOAT64 elements), as floats. */
  public float[] getFloatArray(String key) {
    Object v = required(key);
    if (v instanceof float[] a) {
      return a.clone();
    }
    if (v instanceof double[] a) {
      float[] out = new float[a.length];
      for (int i = 0; i < a.length; i++) {
        out[i] = (float) a[i];
      }
      return out;
    }
    throw wrongType(key, "an array of floats");
  }

  /** Length of array metadata {@code key}, or -1 when absent or not an array. */
  public int arrayLength(String key) {
    Object v = metadata.get(key);
    return v != null && v.getClass().isArray() ? java.lang.reflect.Array.getLength(v) : -1;
  }

  /** Tensor names in file order. */
  public List<String> tensorNames() {
    return List.copyOf(tensors.keySet());
  }

  /** Unmaps the file; tensor segments are invalid afterwards. */
  @Override
  public void close() {
    if (arena.scope().isAlive()) {
      arena.close();
    }
  }
}
