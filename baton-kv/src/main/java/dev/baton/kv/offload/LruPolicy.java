package dev.baton.kv.offload;

import java.util.Iterator;
import java.util.LinkedHashSet;

/** Least recently used: a hit moves the key to the young end; eviction takes the oldest. */
final class LruPolicy implements EvictionPolicy {

  private final LinkedHashSet<BlockKey> order = new LinkedHashSet<>();

  LruPolicy(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive");
    }
  }

  @Override
  public void onHit(BlockKey key) {
    if (order.remove(key)) {
      order.addLast(key);
    }
  }

  @Override
  public void onInsert(BlockKey key) {
    order.addLast(key);
  }

  @Override
  public BlockKey evict() {
    Iterator<BlockKey> it = order.iterator();
    if (!it.hasNext()) {
      return null;
    }
    BlockKey oldest = it.next();
    it.remove();
    return oldest;
  }

  @Override
  public int size() {
    return order.size();
  }
}
