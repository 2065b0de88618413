package dev.baton.kv;

import java.util.List;

/**
 * Counters of a connector that keeps a KV cache (the offload connector), for metrics.
 *
 * @param queryTokens prompt tokens looked up in the cache (beyond the engine's own prefix cache)
 * @param hitTokens prompt tokens loaded from it
 * @param droppedBlocks blocks not saved because the save queue was full
 * @param tiers per tier (l1, l2) counters
 */
public record KvCacheStats(long queryTokens, long hitTokens, long droppedBlocks, List<Tier> tiers) {

  public KvCacheStats {
    tiers = List.copyOf(tiers);
  }

  /**
   * One tier: block hits and misses of lookups, blocks and bytes written to it, bytes read from it,
   * blocks evicted, operations that failed (L2 down or slow), bytes held now and at most ({@code
   * capacityBytes} 0 when the tier does not say).
   */
  public record Tier(
      String name,
      long hits,
      long misses,
      long blocksSaved,
      long bytesSaved,
      long bytesLoaded,
      long evictions,
      long errors,
      long usedBytes,
      long capacityBytes) {}
}
