package dev.baton.kv.offload;

import java.util.ArrayDeque;

/** First in, first out: hits change nothing; eviction takes the key stored longest ago. */
final class FifoPolicy implements EvictionPolicy {

  private final ArrayDeque<BlockKey> queue = new ArrayDeque<>();

  FifoPolicy(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive");
    }
  }

  @Override
  public void onHit(BlockKey key) {}

  @Override
  public void onInsert(BlockKey key) {
    queue.addLast(key);
  }

  @Override
  public BlockKey evict() {
    return queue.pollFirst();
  }

  @Override
  public int size() {
    return queue.size();
  }
}
