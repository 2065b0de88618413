package dev.baton.kv;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The KV block memory a connector reads from and writes into: {@code numBlocks} blocks of {@code
 * blockBytes} each, one contiguous byte range per block (docs/KV_LAYOUT.md). The engine's paged KV
 * pool implements it; baton-kv never needs to know the layout inside a block.
 */
public interface KvBlockMemory {

  int numBlocks();

  long blockBytes();

  /** The bytes of block {@code id}: a view into the memory, not a copy. */
  MemorySegment block(int id);

  /**
   * Names the layout inside a block (block size, dtype, dimensions). Two workers exchange blocks
   * only when their layout keys (plus model id) are equal.
   */
  String layoutKey();

  /**
   * A file that maps exactly this memory (block {@code i} at byte offset {@code i * blockBytes()}),
   * when the memory lives in a shared mapping; same-host peers then copy blocks straight out of it.
   */
  default Optional<Path> sharedFile() {
    return Optional.empty();
  }

  /** Checks that {@code id} names a block of this memory. */
  default boolean isValidBlock(int id) {
    return id >= 0 && id < numBlocks();
  }
}
