package dev.baton.kv;

import java.lang.foreign.MemorySegment;

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
}
