package dev.baton.engine;

import dev.baton.kv.SharedMemoryRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The paged KV cache's memory: {@code numBlocks} fixed-size blocks in one off-heap segment.
 *
 * <p>Layout (docs/KV_LAYOUT.md): block-major, so one block is one contiguous byte range that the KV
 * connectors copy in a single move:
 *
 * <pre>
 * block b: (layer, kv: 0 = K / 1 = V, kv_head, slot in block, head_dim)   elements of dtype
 * </pre>
 *
 * Inside a block, one (layer, K|V, head) run of {@code blockSize * headDim} elements is contiguous,
 * which is what attention streams through. This class only owns memory and addressing; which block
 * belongs to which sequence is the scheduler's business.
 */
public final class KvBlockPool implements AutoCloseable {

  /** Element type of stored K and V. */
  public enum Dtype {
    F32(4),
    F16(2);

    public final int bytes;

    Dtype(int bytes) {
      this.bytes = bytes;
    }
  }

  private final Arena arena; // null when the memory is a shared region
  private final SharedMemoryRegion shared;
  private final MemorySegment memory;
  private final int numBlocks;
  private final int blockSize;
  private final int layers;
  private final int kvHeads;
  private final int headDim;
  private final Dtype dtype;
  private final long blockBytes;

  public KvBlockPool(
      int numBlocks, int blockSize, int layers, int kvHeads, int headDim, Dtype dtype) {
    this(numBlocks, blockSize, layers, kvHeads, headDim, dtype, null);
  }

  /**
   * A pool whose memory lives in a shared-memory file under {@code sharedDir} (null: private
   * memory), so a same-host decode worker can copy leased blocks straight out of it (the P2P
   * connector's shared-memory path, docs/KV_TRANSFER.md).
   */
  public KvBlockPool(
      int numBlocks,
      int blockSize,
      int layers,
      int kvHeads,
      int headDim,
      Dtype dtype,
      Path sharedDir) {
    if (numBlocks <= 0 || blockSize <= 0 || layers <= 0 || kvHeads <= 0 || headDim <= 0) {
      throw new IllegalArgumentException("KV pool dimensions must be positive");
    }
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.dtype = dtype;
    this.blockBytes = (long) layers * 2 * kvHeads * blockSize * headDim * dtype.bytes;
    if (sharedDir != null) {
      this.shared = SharedMemoryRegion.create(sharedDir, blockBytes * numBlocks);
      this.arena = null;
      this.memory = shared.segment();
    } else {
      this.shared = null;
      this.arena = Arena.ofShared();
      this.memory = arena.allocate(blockBytes * numBlocks, 64);
    }
  }

  /** The file a same-host peer maps to read this pool, when it lives in shared memory. */
  public Optional<Path> sharedFile() {
    return shared == null ? Optional.empty() : Optional.of(shared.exportPath());
  }

  /** Bytes of KV one token takes: 2 x layers x kv_heads x head_dim x dtype bytes. */
  public static long bytesPerToken(int layers, int kvHeads, int headDim, Dtype dtype) {
    return 2L * layers * kvHeads * headDim * dtype.bytes;
  }

  /** Byte offset of element 0 of the (layer, K|V, head) run of {@code block}. */
  public long runOffset(int block, int layer, int kv, int head) {
    return block * blockBytes
        + ((((long) layer * 2 + kv) * kvHeads + head) * blockSize) * headDim * dtype.bytes;
  }

  /** The bytes of one block (a view into the pool, not a copy). */
  public MemorySegment block(int block) {
    return memory.asSlice(block * blockBytes, blockBytes);
  }

  public MemorySegment memory() {
    return memory;
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int blockSize() {
    return blockSize;
  }

  public int layers() {
    return layers;
  }

  public int kvHeads() {
    return kvHeads;
  }

  public int headDim() {
    return headDim;
  }

  public Dtype dtype() {
    return dtype;
  }

  public long blockBytes() {
    return blockBytes;
  }

  @Override
  public void close() {
    if (shared != null) {
      shared.close();
    } else {
      arena.close();
    }
  }
}
