package dev.baton.kv.offload;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
  private static final ValueLayout.OfInt INT =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final ValueLayout.OfLong LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

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

  /** The size of every value this codec writes: header plus block. */
  public int valueBytes() {
    return Math.toIntExact(headerBytes() + blockBytes);
  }

  /**
   * Where the block's bytes start in {@code value} if it is a valid value for block {@code hash} in
   * this layout (header and checksum checked), else -1 (a miss): a reader then copies the payload
   * once, straight to where it goes.
   */
  public long payloadOffset(byte[] hash, MemorySegment value) {
    int header = headerBytes();
    if (value == null || value.byteSize() != header + blockBytes || hash.length != 32) {
      return -1;
    }
    if (value.get(INT, 0) != MAGIC
        || MemorySegment.mismatch(value, 4, 36, MemorySegment.ofArray(hash), 0, 32) != -1
        || value.get(INT, 36) != layout.length) {
      return -1;
    }
    long at = 40;
    if (MemorySegment.mismatch(
                value, at, at + layout.length, MemorySegment.ofArray(layout), 0, layout.length)
            != -1
        || value.get(LONG, at + layout.length) != blockBytes) {
      return -1;
    }
    int expected = value.get(INT, at + layout.length + 8);
    CRC32C crc = new CRC32C();
    // Through a ByteBuffer view: on an off-heap value that is the intrinsic over the address.
    crc.update(value.asSlice(header, blockBytes).asByteBuffer());
    return (int) crc.getValue() == expected ? header : -1;
  }
}
