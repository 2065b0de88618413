package dev.baton.cuda;

import dev.baton.engine.KvBlockPool;
import java.lang.foreign.MemorySegment;

/**
 * The paged KV cache in GPU memory: the same blocks, block size, dtype and byte layout as the CPU's
 * {@link KvBlockPool} (block-major; block b = (layer, K|V, kv_head, slot, head_dim)), so a block's
 * bytes mean the same on either backend and the scheduler's block ids and prefix hashes apply
 * unchanged. {@link #download}/{@link #upload} move one block between it and a host pool of the
 * same geometry.
 */
final class CudaKvCache implements AutoCloseable {

  private final CudaDriver driver;
  final long base;
  final int numBlocks;
  final long blockBytes;

  /** A zeroed device pool shaped like {@code host}. */
  CudaKvCache(CudaDriver driver, KvBlockPool host) {
    this.driver = driver;
    this.numBlocks = host.numBlocks();
    this.blockBytes = host.blockBytes();
    this.base = driver.alloc(blockBytes * numBlocks);
    driver.zero(base, blockBytes * numBlocks);
  }

  /** Device address of block {@code block}. */
  long block(int block) {
    return base + block * blockBytes;
  }

  /** Copies device block {@code block} into {@code dst} (one block's bytes). */
  void download(int block, MemorySegment dst) {
    driver.copyToHost(dst, block(block), blockBytes);
  }

  /** Copies {@code src} (one block's bytes) into device block {@code block}. */
  void upload(int block, MemorySegment src) {
    driver.copyToDevice(block(block), src, blockBytes);
  }

  @Override
  public void close() {
    driver.free(base);
  }
}
