package dev.baton.kv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A plain {@link KvCacheView}: {@code numBlocks} blocks in one off-heap segment, optionally in a
 * {@link SharedMemoryRegion} so same-host peers can map it. Tests and the transfer benchmark use
 * it; the engine's KV pool implements {@link KvCacheView} itself.
 */
public final class OffHeapBlockMemory implements KvCacheView, AutoCloseable {

  private final int numBlocks;
  private final int blockSize;
  private final long blockBytes;
  private final String layoutKey;
  private final MemorySegment memory;
  private final Arena arena;
  private final SharedMemoryRegion shared;

  private OffHeapBlockMemory(
      int numBlocks,
      int blockSize,
      long blockBytes,
      String layoutKey,
      Arena arena,
      SharedMemoryRegion shared) {
    if (numBlocks <= 0 || blockSize <= 0 || blockBytes <= 0) {
      throw new IllegalArgumentException("block memory dimensions must be positive");
    }
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.blockBytes = blockBytes;
    this.layoutKey = layoutKey;
    this.arena = arena;
    this.shared = shared;
    this.memory =
        shared != null ? shared.segment() : arena.allocate((long) numBlocks * blockBytes, 64);
  }

  /** Private (anonymous) memory. */
  public static OffHeapBlockMemory allocate(
      int numBlocks, int blockSize, long blockBytes, String layoutKey) {
    return new OffHeapBlockMemory(
        numBlocks, blockSize, blockBytes, layoutKey, Arena.ofShared(), null);
  }

  /** Memory in a shared-memory file under {@code dir}, mappable by same-host peers. */
  public static OffHeapBlockMemory shared(
      Path dir, int numBlocks, int blockSize, long blockBytes, String layoutKey) {
    SharedMemoryRegion region = SharedMemoryRegion.create(dir, (long) numBlocks * blockBytes);
    return new OffHeapBlockMemory(numBlocks, blockSize, blockBytes, layoutKey, null, region);
  }

  @Override
  public int numBlocks() {
    return numBlocks;
  }

  @Override
  public int blockSize() {
    return blockSize;
  }

  @Override
  public long blockBytes() {
    return blockBytes;
  }

  @Override
  public MemorySegment block(int id) {
    return memory.asSlice(id * blockBytes, blockBytes);
  }

  @Override
  public String layout() {
    return layoutKey;
  }

  @Override
  public Optional<Path> sharedFile() {
    return shared == null ? Optional.empty() : Optional.of(shared.exportPath());
  }

  public MemorySegment memory() {
    return memory;
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
