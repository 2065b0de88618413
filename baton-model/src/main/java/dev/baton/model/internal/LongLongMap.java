package dev.baton.model.internal;

/**
 * Open-addressing map from long keys to long values without boxing: the BPE merge table (pair of
 * token ids to rank and merged id) is looked up for every candidate pair during encoding.
 */
public final class LongLongMap {
  private static final long EMPTY = Long.MIN_VALUE;

  private final long[] keys;
  private final long[] values;
  private final int mask;
  private int size;

  /** A map for up to {@code expected} entries (it does not grow). */
  public LongLongMap(int expected) {
    int cap = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
    keys = new long[cap];
    values = new long[cap];
    mask = cap - 1;
    java.util.Arrays.fill(keys, EMPTY);
  }

  private static int hash(long k) {
    long h = k * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32));
  }

  /** Puts {@code key -> value} unless the key is present; returns whether it was added. */
  public boolean putIfAbsent(long key, long value) {
    if (key == EMPTY) {
      throw new IllegalArgumentException("reserved key");
    }
    if (size * 2 >= keys.length) {
      throw new IllegalStateException("map is full");
    }
    for (int i = hash(key) & mask; ; i = (i + 1) & mask) {
      if (keys[i] == EMPTY) {
        keys[i] = key;
        values[i] = value;
        size++;
        return true;
      }
      if (keys[i] == key) {
        return false;
      }
    }
  }

  /** The value of {@code key}, or {@code missing}. */
  public long get(long key, long missing) {
    for (int i = hash(key) & mask; ; i = (i + 1) & mask) {
      long k = keys[i];
      if (k == key) {
        return values[i];
      }
      if (k == EMPTY) {
        return missing;
      }
    }
  }

  public int size() {
    return size;
  }
}
