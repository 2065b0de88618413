package dev.baton.engine.sched;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Who holds which KV block, and which full blocks are cached under their chained hash.
 *
 * <p>Every block has a reference count. Blocks with count 0 sit in one free queue ordered for
 * eviction (least recently freed first); a free block may still carry a cached hash, so a later
 * request with the same prefix takes it back instead of recomputing. Allocating a fresh block pops
 * the queue's head and forgets any hash it had (LRU eviction). Shared prefix blocks simply have a
 * count above 1; they are never written again, because only full blocks are shared.
 *
 * <p>Not thread-safe: the engine loop thread is its only user.
 */
public final class BlockManager {

  private static final int NIL = -1;

  private final int numBlocks;
  private final boolean prefixCaching;
  private final int[] refCount;
  private final ByteBuffer[] hashOf;
  private final Map<ByteBuffer, Integer> cached = new HashMap<>();
  private final KvEventSink events;
  // Free queue as an intrusive doubly linked list over block ids: O(1) removal of a cache hit.
  private final int[] prev;
  private final int[] next;
  private int head = NIL;
  private int tail = NIL;
  private int numFree;

  public BlockManager(int numBlocks, boolean prefixCaching) {
    this(numBlocks, prefixCaching, KvEventSink.NONE);
  }

  /** A manager that reports every evicted cached hash to {@code events}. */
  public BlockManager(int numBlocks, boolean prefixCaching, KvEventSink events) {
    if (numBlocks <= 0) {
      throw new IllegalArgumentException("numBlocks must be positive: " + numBlocks);
    }
    this.numBlocks = numBlocks;
    this.prefixCaching = prefixCaching;
    this.events = events;
    this.refCount = new int[numBlocks];
    this.hashOf = new ByteBuffer[numBlocks];
    this.prev = new int[numBlocks];
    this.next = new int[numBlocks];
    for (int b = 0; b < numBlocks; b++) {
      append(b);
    }
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int numFreeBlocks() {
    return numFree;
  }

  /** Fraction of blocks held by requests (0..1); cached-but-free blocks count as free. */
  public double usage() {
    return 1.0 - (double) numFree / numBlocks;
  }

  public boolean prefixCaching() {
    return prefixCaching;
  }

  /** Number of blocks currently holding a cached hash (held or free). */
  public int numCachedBlocks() {
    return cached.size();
  }

  public int refCount(int block) {
    return refCount[block];
  }

  /**
   * The longest run of leading {@code hashes} whose blocks are cached, as block ids. Takes nothing:
   * call {@link #acquire} to hold them.
   */
  public List<Integer> cachedPrefix(List<byte[]> hashes) {
    List<Integer> hit = new ArrayList<>();
    if (!prefixCaching) {
      return hit;
    }
    for (byte[] h : hashes) {
      Integer b = cached.get(ByteBuffer.wrap(h));
      if (b == null) {
        break;
      }
      hit.add(b);
    }
    return hit;
  }

  /** How many of {@code blocks} are currently free (taking them uses up free capacity). */
  public int countFree(List<Integer> blocks) {
    int n = 0;
    for (int b : blocks) {
      if (refCount[b] == 0) {
        n++;
      }
    }
    return n;
  }

  /** Adds one reference to each of {@code blocks} (cache hits), taking free ones off the queue. */
  public void acquire(List<Integer> blocks) {
    for (int b : blocks) {
      if (refCount[b]++ == 0) {
        unlink(b);
      }
    }
  }

  /**
   * Takes {@code n} fresh blocks from the head of the free queue, evicting their cached hashes, or
   * returns null (taking nothing) when fewer than {@code n} are free.
   */
  public int[] allocate(int n) {
    if (n > numFree) {
      return null;
    }
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      int b = head;
      unlink(b);
      evictHash(b);
      refCount[b] = 1;
      out[i] = b;
    }
    return out;
  }

  /**
   * Records that full block {@code block} holds the KV named {@code hash}. When another block
   * already holds that hash the existing entry stays (this block is then a private duplicate).
   *
   * @return whether the hash is newly cached (a KV event to publish)
   */
  public boolean cache(int block, byte[] hash) {
    if (!prefixCaching || hashOf[block] != null) {
      return false;
    }
    ByteBuffer key = ByteBuffer.wrap(hash.clone());
    if (cached.putIfAbsent(key, block) == null) {
      hashOf[block] = key;
      return true;
    }
    return false;
  }

  /**
   * Drops one reference from each block, in the given order; blocks reaching 0 join the tail of the
   * free queue. Callers pass a sequence's blocks last-first, so its tail blocks (least likely to be
   * shared) are evicted before its prefix.
   */
  public void release(int[] blocks) {
    for (int b : blocks) {
      if (refCount[b] <= 0) {
        throw new IllegalStateException("block " + b + " released more often than taken");
      }
      if (--refCount[b] == 0) {
        if (!prefixCaching) {
          evictHash(b);
        }
        append(b);
      }
    }
  }

  /**
   * Forgets every cached hash of a free block (held blocks keep theirs); returns how many blocks it
   * forgot.
   */
  public int resetPrefixCache() {
    int forgotten = 0;
    for (int b = head; b != NIL; b = next[b]) {
      if (hashOf[b] != null) {
        evictHash(b);
        forgotten++;
      }
    }
    if (cached.isEmpty()) {
      events.cleared();
    }
    return forgotten;
  }

  private void evictHash(int b) {
    ByteBuffer h = hashOf[b];
    if (h != null) {
      cached.remove(h);
      hashOf[b] = null;
      events.removed(new byte[][] {h.array()});
    }
  }

  private void append(int b) {
    prev[b] = tail;
    next[b] = NIL;
    if (tail == NIL) {
      head = b;
    } else {
      next[tail] = b;
    }
    tail = b;
    numFree++;
  }

  private void unlink(int b) {
    int p = prev[b];
    int n = next[b];
    if (p == NIL) {
      head = n;
    } else {
      next[p] = n;
    }
    if (n == NIL) {
      tail = p;
    } else {
      prev[n] = p;
    }
    prev[b] = NIL;
    next[b] = NIL;
    numFree--;
  }
}
