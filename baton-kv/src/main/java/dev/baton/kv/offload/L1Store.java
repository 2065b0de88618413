package dev.baton.kv.offload;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The offload connector's first tier: KV blocks in off-heap host memory of this worker. All blocks
 * have one size, so memory is cut into equal slots ({@code capacityBytes / blockBytes} of them,
 * never more: L1 cannot exceed its capacity); slot memory is allocated in chunks as it fills. A
 * full store evicts by its {@link EvictionPolicy}.
 *
 * <p>Thread-safe. Copies run outside the lock: a block being read is pinned, and a pinned block
 * that gets evicted gives its slot back only when the reader is done.
 */
public final class L1Store implements AutoCloseable {

  private static final long CHUNK_BYTES = 64L << 20;

  /** Counters since start, for metrics. */
  public record Stats(
      long hits,
      long misses,
      long stored,
      long evictions,
      long rejected,
      long bytesStored,
      long bytesLoaded,
      int entries,
      int capacityBlocks) {}

  private static final class Entry {
    final int slot;
    int pins;
    boolean evicted;

    Entry(int slot) {
      this.slot = slot;
    }
  }

  private final long blockBytes;
  private final int capacityBlocks;
  private final int slotsPerChunk;
  private final EvictionPolicy policy;
  private final Arena arena = Arena.ofShared();
  private final List<MemorySegment> chunks = new ArrayList<>();
  private final ArrayDeque<Integer> freeSlots = new ArrayDeque<>();
  private final Map<BlockKey, Entry> entries = new HashMap<>();
  private int slotsAllocated;
  private boolean closed;

  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final AtomicLong stored = new AtomicLong();
  private final AtomicLong evictions = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final AtomicLong bytesStored = new AtomicLong();
  private final AtomicLong bytesLoaded = new AtomicLong();

  /**
   * A store of at most {@code capacityBytes} bytes of {@code blockBytes}-byte blocks, evicting by
   * the policy {@code eviction} names.
   */
  public L1Store(long capacityBytes, long blockBytes, String eviction) {
    if (blockBytes <= 0) {
      throw new IllegalArgumentException("block size must be positive");
    }
    long blocks = capacityBytes / blockBytes;
    if (blocks < 1) {
      throw new IllegalArgumentException(
          "l1_capacity "
              + capacityBytes
              + " bytes holds no block of "
              + blockBytes
              + " bytes; give at least one block");
    }
    this.blockBytes = blockBytes;
    this.capacityBlocks = (int) Math.min(Integer.MAX_VALUE - 8, blocks);
    this.slotsPerChunk = (int) Math.max(1, Math.min(capacityBlocks, CHUNK_BYTES / blockBytes));
    this.policy = EvictionPolicy.create(eviction, capacityBlocks);
  }

  public long blockBytes() {
    return blockBytes;
  }

  public int capacityBlocks() {
    return capacityBlocks;
  }

  /** Whether {@code key} is cached (counts nothing, moves nothing). */
  public synchronized boolean contains(BlockKey key) {
    return entries.containsKey(key);
  }

  /**
   * How many of {@code keys}, from the first, are cached one after another (counts nothing: a
   * scheduler may ask again).
   */
  public synchronized int cachedPrefix(List<BlockKey> keys) {
    int n = 0;
    while (n < keys.size() && entries.containsKey(keys.get(n))) {
      n++;
    }
    return n;
  }

  /**
   * Stores a copy of {@code block} ({@code blockBytes} bytes) under {@code key}, evicting as
   * needed. False when it could not be stored (every slot is being read right now, or the store is
   * closed); true also when the key was cached already.
   */
  public boolean put(BlockKey key, MemorySegment block) {
    checkSize(block);
    return copyIn(key, block, 0);
  }

  /**
   * As {@link #put(BlockKey, MemorySegment)} from the {@code blockBytes} bytes of {@code source} at
   * {@code offset} (a value read from L2, its header before the block).
   */
  public boolean put(BlockKey key, MemorySegment source, long offset) {
    if (offset < 0 || source.byteSize() - offset < blockBytes) {
      throw new IllegalArgumentException("the value holds no whole block at " + offset);
    }
    return copyIn(key, source, offset);
  }

  private boolean copyIn(BlockKey key, MemorySegment source, long offset) {
    Entry entry;
    synchronized (this) {
      if (closed) {
        return false;
      }
      if (entries.containsKey(key)) {
        return true;
      }
      Integer slot = takeSlot();
      if (slot == null) {
        rejected.incrementAndGet();
        return false;
      }
      entry = new Entry(slot);
      entry.pins = 1; // invisible until the bytes are in: readers pin only mapped entries
    }
    MemorySegment.copy(source, offset, slotMemory(entry.slot), 0, blockBytes);
    synchronized (this) {
      entry.pins--;
      if (closed) {
        return false;
      }
      if (entries.putIfAbsent(key, entry) != null) {
        freeSlots.push(entry.slot); // another thread stored the same block meanwhile
        return true;
      }
      policy.onInsert(key);
    }
    stored.incrementAndGet();
    bytesStored.addAndGet(blockBytes);
    return true;
  }

  /** Copies the block cached under {@code key} into {@code target}; false (a miss) when absent. */
  public boolean copyTo(BlockKey key, MemorySegment target) {
    checkSize(target);
    Entry entry;
    synchronized (this) {
      entry = closed ? null : entries.get(key);
      if (entry == null) {
        misses.incrementAndGet();
        return false;
      }
      policy.onHit(key);
      entry.pins++;
    }
    try {
      MemorySegment.copy(slotMemory(entry.slot), 0, target, 0, blockBytes);
    } finally {
      synchronized (this) {
        entry.pins--;
        if (entry.evicted && entry.pins == 0 && !closed) {
          freeSlots.push(entry.slot);
        }
      }
    }
    hits.incrementAndGet();
    bytesLoaded.addAndGet(blockBytes);
    return true;
  }

  /** A free slot, evicting or allocating a chunk if needed; null if none can be had. */
  private Integer takeSlot() {
    if (freeSlots.isEmpty() && slotsAllocated < capacityBlocks) {
      int count = Math.min(slotsPerChunk, capacityBlocks - slotsAllocated);
      chunks.add(arena.allocate(count * blockBytes, 64));
      for (int i = 0; i < count; i++) {
        freeSlots.add(slotsAllocated + i);
      }
      slotsAllocated += count;
    }
    while (freeSlots.isEmpty()) {
      BlockKey victim = policy.evict();
      if (victim == null) {
        return null;
      }
      Entry gone = entries.remove(victim);
      evictions.incrementAndGet();
      gone.evicted = true;
      if (gone.pins == 0) {
        freeSlots.push(gone.slot);
      }
    }
    return freeSlots.pop();
  }

  private MemorySegment slotMemory(int slot) {
    MemorySegment chunk;
    synchronized (this) {
      chunk = chunks.get(slot / slotsPerChunk);
    }
    return chunk.asSlice((slot % slotsPerChunk) * blockBytes, blockBytes);
  }

  private void checkSize(MemorySegment block) {
    if (block.byteSize() != blockBytes) {
      throw new IllegalArgumentException(
          "block of " + block.byteSize() + " bytes, the store holds " + blockBytes);
    }
  }

  public synchronized Stats stats() {
    return new Stats(
        hits.get(),
        misses.get(),
        stored.get(),
        evictions.get(),
        rejected.get(),
        bytesStored.get(),
        bytesLoaded.get(),
        entries.size(),
        capacityBlocks);
  }

  /** Bytes of slot memory allocated so far (at most the capacity). */
  public synchronized long allocatedBytes() {
    return slotsAllocated * blockBytes;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      entries.clear();
      // A copy still running fails with IllegalStateException (shared arenas check on close);
      // the connector counts that as a miss.
      arena.close();
    }
  }
}
