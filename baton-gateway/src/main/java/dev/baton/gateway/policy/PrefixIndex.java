package dev.baton.gateway.policy;

import java.util.Arrays;

/**
 * Which workers were sent which prompt blocks: a fixed-size, set-associative table from block key
 * ({@link dev.baton.core.BlockHash#shortKey}) to a bit mask of worker slots (0..63). Its memory is
 * fixed at construction (24 bytes per block); when a set is full the least recently used block of
 * that set makes room, so a stream of distinct prompts never grows it.
 */
public final class PrefixIndex {

  public static final int WAYS = 8;
  public static final int MAX_SLOTS = 64;
  private static final int BYTES_PER_BLOCK = 8 + 8 + 8;

  private final int setMask;
  private final long[] keys; // 0 = empty
  private final long[] masks;
  private final long[] stamps;
  private long clock;

  public PrefixIndex(int capacityBlocks) {
    int sets = Integer.highestOneBit(Math.max(1, capacityBlocks / WAYS));
    this.setMask = sets - 1;
    this.keys = new long[sets * WAYS];
    this.masks = new long[sets * WAYS];
    this.stamps = new long[sets * WAYS];
  }

  /** Blocks the table can hold. */
  public int capacity() {
    return keys.length;
  }

  /** Bytes held by the table's arrays; constant for its life. */
  public long memoryBytes() {
    return (long) keys.length * BYTES_PER_BLOCK;
  }

  /** Blocks currently stored. */
  public synchronized int size() {
    int n = 0;
    for (long k : keys) {
      if (k != 0) {
        n++;
      }
    }
    return n;
  }

  /** Notes that the worker in {@code slot} was sent a prompt with these block keys. */
  public synchronized void record(long[] blockKeys, int slot) {
    if (slot < 0 || slot >= MAX_SLOTS) {
      return;
    }
    long bit = 1L << slot;
    for (long raw : blockKeys) {
      long key = nonZero(raw);
      int base = setOf(key);
      int victim = base;
      boolean found = false;
      for (int i = base; i < base + WAYS; i++) {
        if (keys[i] == key) {
          masks[i] |= bit;
          stamps[i] = ++clock;
          found = true;
          break;
        }
        if (stamps[i] < stamps[victim]) {
          victim = i;
        }
      }
      if (!found) {
        keys[victim] = key;
        masks[victim] = bit;
        stamps[victim] = ++clock;
      }
    }
  }

  /**
   * For each slot, how many leading blocks of the prompt that worker was sent (its likely prefix
   * cache hit, in blocks).
   */
  public synchronized int[] leadingMatches(long[] blockKeys) {
    int[] matched = new int[MAX_SLOTS];
    long alive = -1L;
    for (int b = 0; b < blockKeys.length && alive != 0; b++) {
      long key = nonZero(blockKeys[b]);
      int base = setOf(key);
      long mask = 0;
      for (int i = base; i < base + WAYS; i++) {
        if (keys[i] == key) {
          mask = masks[i];
          stamps[i] = ++clock;
          break;
        }
      }
      alive &= mask;
      for (long bits = alive; bits != 0; bits &= bits - 1) {
        matched[Long.numberOfTrailingZeros(bits)] = b + 1;
      }
    }
    return matched;
  }

  /** Forgets a worker (its slot will be reused by another). */
  public synchronized void clearSlot(int slot) {
    if (slot < 0 || slot >= MAX_SLOTS) {
      return;
    }
    long keep = ~(1L << slot);
    for (int i = 0; i < masks.length; i++) {
      masks[i] &= keep;
      if (masks[i] == 0) {
        keys[i] = 0;
        stamps[i] = 0;
      }
    }
  }

  public synchronized void clear() {
    Arrays.fill(keys, 0);
    Arrays.fill(masks, 0);
    Arrays.fill(stamps, 0);
  }

  private int setOf(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) ((h ^ (h >>> 32)) & setMask) * WAYS;
  }

  private static long nonZero(long key) {
    return key == 0 ? 1 : key;
  }
}
