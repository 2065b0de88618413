package dev.baton.kv.offload;

import io.lettuce.core.codec.RedisCodec;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Lettuce codec of the L2 tier: keys are byte arrays, values are decoded straight from Netty's read
 * buffer into pooled direct (off-heap) buffers of one KV-block value each. Lettuce's {@code
 * ByteArrayCodec} allocated a fresh heap array per value instead: for 1 MiB blocks that is an
 * allocation, its zeroing and young-GC work per block, which the L2 load profile showed costing
 * more than the copies (docs/PERFORMANCE.md, "L2 load").
 *
 * <p>The pool keeps at most {@code pooled} idle buffers; a value read while the pool is empty gets
 * a fresh buffer, and a buffer released into a full pool is left to the garbage collector. A value
 * larger than {@code valueBytes} is no block of this cache: it decodes to an empty buffer (a miss).
 */
final class PooledValueCodec implements RedisCodec<byte[], ByteBuffer> {

  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  private final int valueBytes;
  private final ArrayBlockingQueue<ByteBuffer> idle;

  PooledValueCodec(int valueBytes, int pooled) {
    if (valueBytes <= 0 || pooled <= 0) {
      throw new IllegalArgumentException("value size and pool size must be positive");
    }
    this.valueBytes = valueBytes;
    this.idle = new ArrayBlockingQueue<>(pooled);
  }

  /** Gives a buffer a decoded value came in back to the pool; the caller must not use it after. */
  void release(ByteBuffer value) {
    if (value != null && value.capacity() == valueBytes && value.isDirect()) {
      value.clear();
      idle.offer(value);
    }
  }

  int idleBuffers() {
    return idle.size();
  }

  @Override
  public byte[] decodeKey(ByteBuffer bytes) {
    byte[] out = new byte[bytes.remaining()];
    bytes.get(out);
    return out;
  }

  @Override
  public ByteBuffer decodeValue(ByteBuffer bytes) {
    if (bytes.remaining() > valueBytes) {
      return EMPTY;
    }
    ByteBuffer out = idle.poll();
    if (out == null) {
      out = ByteBuffer.allocateDirect(valueBytes);
    }
    out.put(bytes).flip();
    return out;
  }

  @Override
  public ByteBuffer encodeKey(byte[] key) {
    return ByteBuffer.wrap(key);
  }

  @Override
  public ByteBuffer encodeValue(ByteBuffer value) {
    return value.duplicate();
  }
}
