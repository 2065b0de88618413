package dev.baton.kv.offload;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * S3-FIFO (Yang et al., SOSP 2023): a small FIFO (10% of the capacity) that new keys enter, a main
 * FIFO for keys that proved useful, and a ghost queue of recently evicted keys. A key leaving the
 * small queue without a hit since it entered is dropped at once (and remembered as a ghost), so a
 * scan of one-hit wonders passes through the small queue without pushing the hot set out of main. A
 * key inserted again while it is a ghost goes straight to main. Main evicts FIFO but gives every
 * key with hits another round (its counter, at most 3, decremented).
 */
final class S3FifoPolicy implements EvictionPolicy {

  private static final int MAX_FREQ = 3;

  private final int smallTarget;
  private final int ghostCapacity;
  private final ArrayDeque<BlockKey> small = new ArrayDeque<>();
  private final ArrayDeque<BlockKey> main = new ArrayDeque<>();
  private final LinkedHashSet<BlockKey> ghost = new LinkedHashSet<>();
  private final Map<BlockKey, Integer> freq = new HashMap<>();

  S3FifoPolicy(int capacity) {
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive");
    }
    this.smallTarget = Math.max(1, capacity / 10);
    this.ghostCapacity = Math.max(1, capacity - smallTarget);
  }

  @Override
  public void onHit(BlockKey key) {
    freq.computeIfPresent(key, (k, f) -> Math.min(MAX_FREQ, f + 1));
  }

  @Override
  public void onInsert(BlockKey key) {
    freq.put(key, 0);
    if (ghost.remove(key)) {
      main.addLast(key);
    } else {
      small.addLast(key);
    }
  }

  @Override
  public BlockKey evict() {
    while (!small.isEmpty() || !main.isEmpty()) {
      BlockKey victim =
          small.size() >= smallTarget || main.isEmpty() ? evictFromSmall() : evictFromMain();
      if (victim != null) {
        return victim;
      }
    }
    return null;
  }

  /** Moves hit keys from the small queue to main; returns the first key without hits, or null. */
  private BlockKey evictFromSmall() {
    while (!small.isEmpty()) {
      BlockKey tail = small.pollFirst();
      if (freq.get(tail) > 0) {
        freq.put(tail, 0);
        main.addLast(tail);
      } else {
        freq.remove(tail);
        rememberGhost(tail);
        return tail;
      }
    }
    return null;
  }

  /** Gives keys with hits another round in main; returns the first key without, or null. */
  private BlockKey evictFromMain() {
    while (!main.isEmpty()) {
      BlockKey tail = main.pollFirst();
      int f = freq.get(tail);
      if (f > 0) {
        freq.put(tail, f - 1);
        main.addLast(tail);
      } else {
        freq.remove(tail);
        return tail;
      }
    }
    return null;
  }

  private void rememberGhost(BlockKey key) {
    ghost.add(key);
    if (ghost.size() > ghostCapacity) {
      ghost.removeFirst();
    }
  }

  @Override
  public int size() {
    return small.size() + main.size();
  }
}
