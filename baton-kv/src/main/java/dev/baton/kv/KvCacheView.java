package dev.baton.kv;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The engine's paged KV memory as a connector sees it: {@code numBlocks} blocks of {@code
 * blockBytes} bytes each, one contiguous segment per block (layout in docs/KV_LAYOUT.md). {@code
 * layout} names model, block size and dtype so two workers can check they match before copying.
 */
public interface KvCacheView {

  int numBlocks();

  int blockSize();

  long blockBytes();

  /** The bytes of one block (a view, not a copy). */
  MemorySegment block(int blockId);

  /** A string equal on two workers exactly when their blocks can be copied between them. */
  String layout();

  /**
   * A file that maps exactly this memory (block {@code i} at byte offset {@code i * blockBytes()}),
   * when the memory lives in a shared mapping: same-host peers then copy blocks straight out of it
   * (the P2P connector's shared-memory path). Empty for private memory.
   */
  default Optional<Path> sharedFile() {
    return Optional.empty();
  }

  /**
   * The same blocks in device memory, when the runner computes there (a GPU): the copy that is
   * current after a step. Same-host peers with device memory copy device to device; everything else
   * goes through {@link #block} (the runner syncs it, ModelRunner.kvToPool/kvFromPool).
   */
  default Optional<DeviceKvMemory> device() {
    return Optional.empty();
  }

  /** Whether {@code blockId} names a block of this memory. */
  default boolean isValidBlock(int blockId) {
    return blockId >= 0 && blockId < numBlocks();
  }
}
