package dev.baton.gateway.policy;

import dev.baton.core.BlockHash;
import dev.baton.core.KvEvents;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * One worker's prefix cache as its KV events tell it: exactly the blocks it holds now, not the
 * prompts the gateway sent it. Events name blocks by the worker's own hashes (vLLM's are seeded per
 * process and cannot be recomputed here), so each stored block is renamed by the gateway's key for
 * the same tokens: the chain {@link PromptKeys} builds for a request, continued from the key of the
 * event's parent block. A block whose parent this index never saw (events missed) cannot be named
 * and is skipped.
 *
 * <p>Memory follows the worker's cache (one entry per cached block), capped at {@code maxBlocks}: a
 * worker announcing more loses its oldest knowledge (the index is cleared and rebuilt from new
 * events) rather than growing the gateway without bound.
 */
public final class KvEventIndex {

  /** What a worker's hash stands for here: the gateway's full key and the chain's salt. */
  private record Entry(byte[] key, String salt) {}

  private final int blockSize;
  private final int maxBlocks;
  private final Map<Long, Entry> byWorkerHash = new HashMap<>();
  private final Set<Long> keys = new HashSet<>();
  private long stored;
  private long removed;
  private long skipped;
  private volatile boolean live;

  /**
   * @param blockSize tokens per block of the gateway's keys; events of another block size are
   *     skipped (their blocks cannot be named)
   */
  public KvEventIndex(int blockSize, int maxBlocks) {
    this.blockSize = blockSize;
    this.maxBlocks = maxBlocks;
  }

  /** Whether the worker has published anything: until then routing uses the approximate index. */
  public boolean live() {
    return live;
  }

  /** Applies one batch, in order. */
  public synchronized void apply(KvEvents.Batch batch) {
    for (KvEvents.Event e : batch.events()) {
      switch (e) {
        case KvEvents.BlockStored s -> store(s);
        case KvEvents.BlockRemoved r -> remove(r.blockHashes());
        case KvEvents.AllBlocksCleared c -> clear();
      }
    }
    live = true;
  }

  private void store(KvEvents.BlockStored s) {
    int n = s.blockHashes().length;
    if (s.blockSize() != blockSize || s.tokenIds().length != n * blockSize) {
      skipped += n;
      return;
    }
    byte[] parent;
    String salt;
    if (s.parentBlockHash() == null) {
      parent = BlockHash.ROOT;
      salt = s.cacheSalt();
    } else {
      Entry p = byWorkerHash.get(s.parentBlockHash());
      if (p == null) {
        skipped += n;
        return;
      }
      parent = p.key();
      salt = p.salt();
    }
    String extra = PromptKeys.extraKeys(salt);
    for (int i = 0; i < n; i++) {
      if (byWorkerHash.size() >= maxBlocks) {
        clear();
      }
      byte[] key = BlockHash.of(parent, s.tokenIds(), i * blockSize, (i + 1) * blockSize, extra);
      Entry old = byWorkerHash.put(s.blockHashes()[i], new Entry(key, salt));
      if (old != null) {
        keys.remove(BlockHash.shortKey(old.key()));
      }
      keys.add(BlockHash.shortKey(key));
      stored++;
      parent = key;
    }
  }

  private void remove(long[] hashes) {
    for (long h : hashes) {
      Entry e = byWorkerHash.remove(h);
      if (e != null) {
        keys.remove(BlockHash.shortKey(e.key()));
        removed++;
      }
    }
  }

  /** Forgets everything (the worker cleared its cache or restarted). */
  public synchronized void clear() {
    byWorkerHash.clear();
    keys.clear();
  }

  /** How many leading blocks of a prompt (its {@link PromptKeys} keys) the worker holds. */
  public synchronized int leadingMatches(long[] promptKeys) {
    int n = 0;
    while (n < promptKeys.length && keys.contains(promptKeys[n])) {
      n++;
    }
    return n;
  }

  /** Blocks the worker holds now, as far as its events told. */
  public synchronized int size() {
    return keys.size();
  }

  /** Blocks stored, removed, and skipped (unknown parent or another block size) so far. */
  public synchronized long[] counts() {
    return new long[] {stored, removed, skipped};
  }
}
