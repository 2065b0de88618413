package dev.baton.engine;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The seam between the scheduler and the compute: one call runs one engine step for a batch of
 * sequences. Each {@link SeqChunk} appends tokens at positions {@code startPos..} of a sequence
 * whose KV lives in the blocks of its block table; the runner writes their K and V into those
 * blocks and attends over positions {@code 0..startPos + tokens.length - 1}.
 *
 * <p>Prefill chunks (many tokens) and decode chunks (one token) mix freely in one step. The
 * scheduler owns block allocation; the runner only reads and writes the blocks it is given.
 */
public interface ModelRunner extends AutoCloseable {

  /** One sequence's part of a step. */
  record SeqChunk(int[] blockTable, int startPos, int[] tokens, boolean wantLogits) {}

  /**
   * Runs one step. Returns one logits row (vocabulary size) per chunk, for the chunk's last token,
   * in the order of {@code batch}; the row is {@code null} for chunks with {@code wantLogits ==
   * false} (a prefill chunk that is not the prompt's last).
   */
  List<float[]> forward(List<SeqChunk> batch);

  /**
   * Runs one step like {@link #forward} but returns, per chunk, the index of its logits row's
   * largest value (lowest index on ties; -1 for chunks with {@code wantLogits == false}). For
   * greedy requests: a runner whose logits live elsewhere (a GPU) overrides it to move one int per
   * row instead of the row.
   */
  default int[] forwardArgmax(List<SeqChunk> batch) {
    List<float[]> logits = forward(batch);
    int[] out = new int[logits.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = logits.get(i) == null ? -1 : argmax(logits.get(i));
    }
    return out;
  }

  /** Index of the largest value, the lowest one on ties (NaN never wins). */
  static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Vocabulary size (length of every logits row). */
  int vocabSize();

  /** Longest sequence (prompt + output) the model supports here. */
  int contextLength();

  /** The KV pool this runner reads and writes. */
  KvBlockPool kvPool();

  /**
   * Makes {@link #kvPool()}'s copy of {@code blocks} current before a KV connector reads it (a
   * producer about to offer them to peers). A runner that computes in the pool itself (the CPU) has
   * nothing to do; one that keeps the KV elsewhere (a GPU) copies it into the pool.
   */
  default void kvToPool(int[] blocks) {}

  /**
   * A KV connector has written {@code blocks} into {@link #kvPool()}: a runner that keeps the KV
   * elsewhere (a GPU) copies them there before computing with them.
   */
  default void kvFromPool(int[] blocks) {}

  /**
   * The KV blocks in device memory, for a runner that computes there (a GPU): connectors copy
   * between such memories device to device on one host (CUDA IPC). Empty on the host.
   */
  default java.util.Optional<dev.baton.kv.DeviceKvMemory> deviceKv() {
    return java.util.Optional.empty();
  }

  /** Memory of the device this runner computes on, in bytes: used and total. */
  record DeviceMemory(String device, long usedBytes, long totalBytes) {}

  /** The device's memory now, or null for a runner on the host (nothing beyond the JVM's). */
  default DeviceMemory deviceMemory() {
    return null;
  }

  // ---- what benchmarks report (baton generate --json) ----

  /** Threads the runner computes with. */
  default int threads() {
    return 1;
  }

  /** Weight bytes read per decoded token (the memory roofline's numerator); 0 when unknown. */
  default long weightBytesPerToken() {
    return 0;
  }

  /** Which kernels compute, in a few words. */
  default String kernels() {
    return "unknown";
  }

  /**
   * Measured read bandwidth over {@code segments} in bytes per second: {@code [all threads, per CPU
   * second]}; null when the backend cannot measure it.
   */
  default double[] readBandwidth(List<MemorySegment> segments) {
    return null;
  }

  @Override
  void close();

  /**
   * Rejects a chunk no runner can compute: no tokens, positions outside {@code contextLength}, a
   * block table too short or naming blocks outside the pool, token ids outside the vocabulary.
   */
  static void checkChunk(
      SeqChunk c, int contextLength, int blockSize, int numBlocks, int vocabSize) {
    if (c.tokens().length == 0) {
      throw new IllegalArgumentException("a chunk needs at least one token");
    }
    int end = c.startPos() + c.tokens().length;
    if (c.startPos() < 0 || end > contextLength) {
      throw new IllegalArgumentException(
          "positions "
              + c.startPos()
              + ".."
              + (end - 1)
              + " are outside the context of "
              + contextLength
              + " tokens");
    }
    if ((long) c.blockTable().length * blockSize < end) {
      throw new IllegalArgumentException(
          "block table of "
              + c.blockTable().length
              + " blocks cannot hold "
              + end
              + " positions (block size "
              + blockSize
              + ")");
    }
    for (int b = 0; b < (end + blockSize - 1) / blockSize; b++) {
      if (c.blockTable()[b] < 0 || c.blockTable()[b] >= numBlocks) {
        throw new IllegalArgumentException("block id " + c.blockTable()[b] + " is not in the pool");
      }
    }
    for (int t : c.tokens()) {
      if (t < 0 || t >= vocabSize) {
        throw new IllegalArgumentException(
            "token id " + t + " is outside the vocabulary (0.." + (vocabSize - 1) + ")");
      }
    }
  }
}
