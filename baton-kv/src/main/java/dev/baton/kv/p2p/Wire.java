package dev.baton.kv.p2p;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The block channel's framing and handshake crypto. A control frame is {@code int length, byte
 * type, payload}; block bytes follow a READ_OK frame raw. See docs/KV_TRANSFER.md for the message
 * list.
 */
final class Wire {

  static final int MAGIC = 0x4241544E; // "BATN"

  /**
   * 2: the handshake MAC covers the whole transcript (both nonces, both identities, the address the
   * client dialed, the layout) and the server's AUTH_OK fields (docs/SECURITY.md). 3: AUTH_OK also
   * names the server's exported device memory (CUDA IPC), and READ has a device mode.
   */
  static final short VERSION = 3;

  /** The handshake MACs' labels (they carry the version, so no MAC verifies across versions). */
  static final String CLIENT_MAC = "baton-kv/3 client";

  static final String SERVER_MAC = "baton-kv/3 server";

  static final int NONCE_BYTES = 32;

  /** Largest control frame accepted: a READ for 256k block ids fits; garbage lengths do not. */
  static final int MAX_FRAME = 1 << 20;

  // Frame types.
  static final byte HELLO = 1;
  static final byte AUTH = 2;
  static final byte AUTH_OK = 3;
  static final byte ERROR = 4;
  static final byte READ = 5;
  static final byte READ_OK = 6;
  static final byte RELEASE = 7;
  static final byte RELEASE_OK = 8;
  static final byte UNPIN = 9;
  static final byte UNPIN_OK = 10;

  // READ modes.
  static final byte MODE_STREAM = 0;
  static final byte MODE_SHM = 1;
  static final byte MODE_DEVICE = 2;

  private Wire() {}

  /** The peer broke the protocol (bad length, unknown type, truncated field). */
  static final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolException(String message) {
      super(message);
    }
  }

  /** Reads one frame; returns its buffer positioned at the type byte. */
  static ByteBuffer readFrame(SocketChannel channel) throws IOException {
    ByteBuffer length = ByteBuffer.allocate(4);
    readFully(channel, length);
    int n = length.flip().getInt();
    if (n < 1 || n > MAX_FRAME) {
      throw new ProtocolException("bad frame length " + n);
    }
    ByteBuffer frame = ByteBuffer.allocate(n);
    readFully(channel, frame);
    return frame.flip();
  }

  static void readFully(SocketChannel channel, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      if (channel.read(buffer) < 0) {
        throw new EOFException("peer closed the connection");
      }
    }
  }

  static void writeFully(SocketChannel channel, ByteBuffer... buffers) throws IOException {
    long remaining = 0;
    for (ByteBuffer b : buffers) {
      remaining += b.remaining();
    }
    while (remaining > 0) {
      remaining -= channel.write(buffers);
    }
  }

  /** A frame being built: call {@link #finish()} to get the buffer to write. */
  static final class FrameBuilder {
    private ByteBuffer buffer;

    FrameBuilder(byte type) {
      buffer = ByteBuffer.allocate(256);
      buffer.putInt(0).put(type);
    }

    private void ensure(int more) {
      if (buffer.remaining() < more) {
        ByteBuffer bigger =
            ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + more));
        bigger.put(buffer.flip());
        buffer = bigger;
      }
    }

    FrameBuilder putInt(int v) {
      ensure(4);
      buffer.putInt(v);
      return this;
    }

    FrameBuilder putLong(long v) {
      ensure(8);
      buffer.putLong(v);
      return this;
    }

    FrameBuilder putByte(byte v) {
      ensure(1);
      buffer.put(v);
      return this;
    }

    FrameBuilder putShort(short v) {
      ensure(2);
      buffer.putShort(v);
      return this;
    }

    FrameBuilder putBytes(byte[] v) {
      ensure(v.length);
      buffer.put(v);
      return this;
    }

    FrameBuilder putString(String s) {
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      if (bytes.length > 0xFFFF) {
        throw new IllegalArgumentException("string too long for the wire");
      }
      ensure(2 + bytes.length);
      buffer.putShort((short) bytes.length).put(bytes);
      return this;
    }

    ByteBuffer finish() {
      buffer.putInt(0, buffer.position() - 4);
      return buffer.flip();
    }
  }

  static byte getByte(ByteBuffer b) throws ProtocolException {
    need(b, 1);
    return b.get();
  }

  static short getShort(ByteBuffer b) throws ProtocolException {
    need(b, 2);
    return b.getShort();
  }

  static int getInt(ByteBuffer b) throws ProtocolException {
    need(b, 4);
    return b.getInt();
  }

  static long getLong(ByteBuffer b) throws ProtocolException {
    need(b, 8);
    return b.getLong();
  }

  static byte[] getBytes(ByteBuffer b, int n) throws ProtocolException {
    need(b, n);
    byte[] out = new byte[n];
    b.get(out);
    return out;
  }

  static String getString(ByteBuffer b) throws ProtocolException {
    int n = Short.toUnsignedInt(getShort(b));
    return new String(getBytes(b, n), StandardCharsets.UTF_8);
  }

  private static void need(ByteBuffer b, int n) throws ProtocolException {
    if (b.remaining() < n) {
      throw new ProtocolException("truncated frame");
    }
  }

  /**
   * The handshake transcript: every field either side stated, each length-prefixed so that no two
   * different transcripts encode alike. Both MACs of the handshake are computed over it.
   */
  static final class Transcript {
    private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

    Transcript add(byte[] field) {
      bytes.writeBytes(ByteBuffer.allocate(4).putInt(field.length).array());
      bytes.writeBytes(field);
      return this;
    }

    Transcript add(String field) {
      return add(field.getBytes(StandardCharsets.UTF_8));
    }

    Transcript add(long field) {
      return add(ByteBuffer.allocate(8).putLong(field).array());
    }

    byte[] mac(byte[] secret, String label) {
      return hmac(secret, label, bytes.toByteArray());
    }
  }

  /** HMAC-SHA256 of the concatenated parts under the cluster secret. */
  static byte[] hmac(byte[] secret, String label, byte[]... parts) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(label.getBytes(StandardCharsets.UTF_8));
      for (byte[] part : parts) {
        mac.update(part);
      }
      return mac.doFinal();
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  /** Identifies this host (boot id + host name): equal ids mean shared memory can work. */
  static String hostId() {
    String boot = "";
    try {
      boot =
          java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/random/boot_id"))
              .strip();
    } catch (IOException | RuntimeException e) {
      // Not Linux: the host name alone decides.
    }
    String name;
    try {
      name = java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      name = "unknown";
    }
    return boot + "/" + name;
  }
}
