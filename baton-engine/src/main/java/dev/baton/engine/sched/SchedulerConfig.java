package dev.baton.engine.sched;

/**
 * Scheduling limits of one engine.
 *
 * @param blockSize tokens per KV block
 * @param maxNumBatchedTokens token budget of one step (prefill chunks + decodes)
 * @param maxNumSeqs most requests running at once
 * @param maxModelLen longest sequence (prompt + output)
 * @param maxWaiting most requests queued for admission; more are refused (load shedding)
 * @param prefixCaching whether full blocks are shared between requests by their hash
 * @param modelKey model name in every block hash's extra keys
 * @param kvDtypeKey KV dtype in every block hash's extra keys
 */
public record SchedulerConfig(
    int blockSize,
    int maxNumBatchedTokens,
    int maxNumSeqs,
    int maxModelLen,
    int maxWaiting,
    boolean prefixCaching,
    String modelKey,
    String kvDtypeKey) {

  public SchedulerConfig {
    if (blockSize <= 0 || maxNumBatchedTokens <= 0 || maxNumSeqs <= 0 || maxModelLen <= 0) {
      throw new IllegalArgumentException("scheduler limits must be positive");
    }
    if (maxWaiting < 0) {
      throw new IllegalArgumentException("maxWaiting must be >= 0");
    }
  }
}
