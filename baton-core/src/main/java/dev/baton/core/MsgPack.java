package dev.baton.core;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The part of MessagePack that KV events use (vLLM encodes them with msgspec): nil, booleans,
 * integers, float64, strings, binary, arrays and maps. Values decode to {@code null}, {@link
 * Boolean}, {@link Long} (an unsigned 64-bit value above {@code Long.MAX_VALUE} keeps its bits),
 * {@link Double}, {@link String}, {@code byte[]}, {@link List} and {@link Map}.
 */
public final class MsgPack {

  /** Deepest nesting a decoded message may have: a hostile message cannot exhaust the stack. */
  private static final int MAX_DEPTH = 32;

  private MsgPack() {}

  /** Decodes one value that fills {@code bytes} exactly; malformed input throws. */
  public static Object decode(byte[] bytes) {
    ByteBuffer in = ByteBuffer.wrap(bytes);
    try {
      Object v = read(in, 0);
      if (in.hasRemaining()) {
        throw new IllegalArgumentException(in.remaining() + " bytes after the msgpack value");
      }
      return v;
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated msgpack value", e);
    }
  }

  private static Object read(ByteBuffer in, int depth) {
    if (depth > MAX_DEPTH) {
      throw new IllegalArgumentException("msgpack value nested deeper than " + MAX_DEPTH);
    }
    int b = in.get() & 0xff;
    if (b <= 0x7f) {
      return (long) b;
    }
    if (b >= 0xe0) {
      return (long) (byte) b;
    }
    if ((b & 0xf0) == 0x80) {
      return map(in, b & 0x0f, depth);
    }
    if ((b & 0xf0) == 0x90) {
      return array(in, b & 0x0f, depth);
    }
    if ((b & 0xe0) == 0xa0) {
      return string(in, b & 0x1f);
    }
    return switch (b) {
      case 0xc0 -> null;
      case 0xc2 -> false;
      case 0xc3 -> true;
      case 0xc4 -> bytes(in, in.get() & 0xff);
      case 0xc5 -> bytes(in, in.getShort() & 0xffff);
      case 0xc6 -> bytes(in, length(in.getInt()));
      case 0xca -> (double) in.getFloat();
      case 0xcb -> in.getDouble();
      case 0xcc -> (long) (in.get() & 0xff);
      case 0xcd -> (long) (in.getShort() & 0xffff);
      case 0xce -> in.getInt() & 0xffffffffL;
      case 0xcf, 0xd3 -> in.getLong();
      case 0xd0 -> (long) in.get();
      case 0xd1 -> (long) in.getShort();
      case 0xd2 -> (long) in.getInt();
      case 0xd9 -> string(in, in.get() & 0xff);
      case 0xda -> string(in, in.getShort() & 0xffff);
      case 0xdb -> string(in, length(in.getInt()));
      case 0xdc -> array(in, in.getShort() & 0xffff, depth);
      case 0xdd -> array(in, length(in.getInt()), depth);
      case 0xde -> map(in, in.getShort() & 0xffff, depth);
      case 0xdf -> map(in, length(in.getInt()), depth);
      default ->
          throw new IllegalArgumentException(
              "msgpack type 0x" + Integer.toHexString(b) + " is not supported");
    };
  }

  private static int length(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("msgpack length " + Integer.toUnsignedString(n));
    }
    return n;
  }

  private static byte[] bytes(ByteBuffer in, int n) {
    if (n > in.remaining()) {
      throw new IllegalArgumentException("msgpack length " + n + " exceeds the message");
    }
    byte[] out = new byte[n];
    in.get(out);
    return out;
  }

  private static String string(ByteBuffer in, int n) {
    return new String(bytes(in, n), StandardCharsets.UTF_8);
  }

  private static List<Object> array(ByteBuffer in, int n, int depth) {
    if (n > in.remaining()) { // every element takes at least one byte
      throw new IllegalArgumentException("msgpack array of " + n + " exceeds the message");
    }
    List<Object> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(read(in, depth + 1));
    }
    return out;
  }

  private static Map<Object, Object> map(ByteBuffer in, int n, int depth) {
    if (n > in.remaining() / 2) {
      throw new IllegalArgumentException("msgpack map of " + n + " exceeds the message");
    }
    Map<Object, Object> out = LinkedHashMap.newLinkedHashMap(n);
    for (int i = 0; i < n; i++) {
      Object key = read(in, depth + 1);
      out.put(key, read(in, depth + 1));
    }
    return out;
  }

  /** Builds one msgpack message. */
  public static final class Writer {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);

    public byte[] toByteArray() {
      return out.toByteArray();
    }

    public Writer nil() {
      out.write(0xc0);
      return this;
    }

    public Writer bool(boolean v) {
      out.write(v ? 0xc3 : 0xc2);
      return this;
    }

    /** A signed integer in its shortest form. */
    public Writer integer(long v) {
      if (v >= 0 && v <= 0x7f) {
        out.write((int) v);
      } else if (v < 0 && v >= -32) {
        out.write((int) v & 0xff);
      } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
        out.write(0xd2);
        putInt((int) v);
      } else {
        out.write(0xd3);
        putLong(v);
      }
      return this;
    }

    /** An unsigned 64-bit integer given by its bits (what vLLM's int block hashes are). */
    public Writer unsigned(long bits) {
      if (bits >= 0 && bits <= 0x7f) {
        out.write((int) bits);
      } else {
        out.write(0xcf);
        putLong(bits);
      }
      return this;
    }

    public Writer float64(double v) {
      out.write(0xcb);
      putLong(Double.doubleToLongBits(v));
      return this;
    }

    public Writer string(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      if (b.length < 32) {
        out.write(0xa0 | b.length);
      } else {
        out.write(0xdb);
        putInt(b.length);
      }
      out.writeBytes(b);
      return this;
    }

    public Writer binary(byte[] b) {
      out.write(0xc6);
      putInt(b.length);
      out.writeBytes(b);
      return this;
    }

    public Writer array(int n) {
      if (n < 16) {
        out.write(0x90 | n);
      } else {
        out.write(0xdd);
        putInt(n);
      }
      return this;
    }

    public Writer map(int n) {
      if (n < 16) {
        out.write(0x80 | n);
      } else {
        out.write(0xdf);
        putInt(n);
      }
      return this;
    }

    private void putInt(int v) {
      out.write(v >>> 24);
      out.write(v >>> 16);
      out.write(v >>> 8);
      out.write(v);
    }

    private void putLong(long v) {
      putInt((int) (v >>> 32));
      putInt((int) v);
    }
  }
}
