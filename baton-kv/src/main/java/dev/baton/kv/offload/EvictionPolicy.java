package dev.baton.kv.offload;

/**
 * Decides which cached block leaves a full {@link L1Store}. Every entry has the same size (one KV
 * block), so capacity is counted in entries. Not thread-safe: the store calls it under its lock.
 */
public interface EvictionPolicy {

  /** Names {@code l1_eviction} accepts. */
  String S3FIFO = "s3fifo";

  String LRU = "lru";
  String FIFO = "fifo";

  /** The policy {@code name} names, for {@code capacity} entries. */
  static EvictionPolicy create(String name, int capacity) {
    return switch (name) {
      case S3FIFO -> new S3FifoPolicy(capacity);
      case LRU -> new LruPolicy(capacity);
      case FIFO -> new FifoPolicy(capacity);
      default ->
          throw new IllegalArgumentException(
              "l1_eviction must be s3fifo, lru or fifo, got '" + name + "'");
    };
  }

  /** A lookup found {@code key} cached. */
  void onHit(BlockKey key);

  /** {@code key} was just stored; the caller made room first with {@link #evict}. */
  void onInsert(BlockKey key);

  /** Chooses and forgets one cached key (the cache is full); null when nothing is cached. */
  BlockKey evict();

  /** Number of cached keys the policy tracks. */
  int size();
}
