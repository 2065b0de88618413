package dev.baton.engine.sched;

/**
 * Receives the prefix cache's changes as they happen (vLLM's KV events): blocks stored under their
 * hash, blocks whose hash was evicted, the whole cache reset. Called on the engine loop thread: an
 * implementation must be quick and never throw.
 */
public interface KvEventSink {

  KvEventSink NONE = new KvEventSink() {};

  /**
   * Consecutive full blocks of one sequence became cached.
   *
   * @param hashes the blocks' chained hashes, in order
   * @param parent hash of the block before the first (null when the first starts the sequence)
   * @param tokens every block's token ids, {@code blockSize} each
   * @param cacheSalt the request's {@code cache_salt}, or null
   */
  default void stored(
      byte[][] hashes, byte[] parent, int[] tokens, int blockSize, String cacheSalt) {}

  /** Blocks whose cached hash was dropped (the block was reused or the cache reset). */
  default void removed(byte[][] hashes) {}

  /** Every cached hash was dropped. */
  default void cleared() {}
}
