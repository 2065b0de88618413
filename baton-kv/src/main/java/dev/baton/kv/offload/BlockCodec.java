package dev.baton.kv.offload;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The bytes of one KV block in the shared (L2) cache: a header that names what the bytes are, then
 * the block. A value whose header does not match what the reader expects (another layout, another
 * block, a wrong length or checksum: a foreign model, a truncated write, bit rot) decodes to null,
 * which the connector treats as a miss, so it can never load wrong KV.
 *
 * <pre>
 * int   magic "BKV1"
 * byte[32] block hash (must equal the key asked for)
 * int   layout length, then the layout string (UTF-8), e.g. "tiny/layers=2/.../float32"
 * long  payload length (must equal the reader's block bytes)
 * int   CRC32C of the payload
 * byte[payload length]
 * </pre>
 */
public final class BlockCodec {

  static final int MAGIC = 0x424b5631; // "BKV1"

  private final byte[] layout;
  private final long blockBytes;

  public BlockCodec(String layout, long blockBytes) {
    this.layout = layout.getBytes(StandardCharsets.UTF_8);
    this.blockBytes = blockBytes;
  }

  private int headerBytes() {
    return 4 + 32 + 4 + layout.length + 8 + 4;
  }

  /** The value to store for block {@code hash} holding {@code block}. */
  public byte[] encode(byte[] hash, MemorySegment block) {
    if (hash.length != 32 || block.byteSize() != blockBytes) {
      throw new IllegalArgumentException("a 32-byte hash and a " + blockBytes + "-byte block");
    }
    byte[] out = new byte[Math.toIntExact(headerBytes() + blockBytes)];
    int header = headerBytes();
    MemorySegment.copy(block, ValueLayout.JAVA_BYTE, 0, out, header, (int) blockBytes);
    CRC32C crc = new CRC32C();
    crc.update(out, header, (int) blockBytes);
    ByteBuffer b = ByteBuffer.wrap(out);
    b.putInt(MAGIC).put(hash).putInt(layout.length).put(layout).putLong(blockBytes);
    b.putInt((int) crc.getValue());
    return out;
  }

  /**
   * Copies the block out of {@code value} into {@code target} if {@code value} is a valid value for
   * block {@code hash} in this layout; false (a miss) otherwise, {@code target} then unspecified.
   */
  public boolean decodeInto(byte[] hash, byte[] value, MemorySegment target) {
    int payload = payloadOffset(hash, value);
    if (payload < 0) {
      return false;
    }
    MemorySegment.copy(value, payload, target, ValueLayout.JAVA_BYTE, 0, (int) blockBytes);
    return true;
  }

  /**
   * Where the block's bytes start in {@code value} if it is a valid value for block {@code hash} in
   * this layout (header and checksum checked), else -1: a reader then copies the payload once,
   * straight to where it goes.
   */
  public int payloadOffset(byte[] hash, byte[] value) {
    int header = headerBytes();
    if (value == null || value.length != header + blockBytes || hash.length != 32) {
      return -1;
    }
    ByteBuffer b = ByteBuffer.wrap(value);
    if (b.getInt() != MAGIC || !Arrays.equals(value, 4, 36, hash, 0, 32)) {
      return -1;
    }
    b.position(36);
    if (b.getInt() != layout.length) {
      return -1;
    }
    int at = b.position();
    if (!Arrays.equals(value, at, at + layout.length, layout, 0, layout.length)) {
      return -1;
    }
    b.position(at + layout.length);
    if (b.getLong() != blockBytes) {
      return -1;
    }
    int expected = b.getInt();
    CRC32C crc = new CRC32C();
    crc.update(value, header, (int) blockBytes);
    return (int) crc.getValue() == expected ? header : -1;
  }
}
