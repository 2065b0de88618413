package dev.baton.sim;

/**
 * How long a worker's engine steps take, the quantities the simulator advances time by.
 *
 * @param prefillBaseMs fixed cost of prefilling one prompt (scheduling, first step overhead)
 * @param prefillPerTokenMs cost per prompt token
 * @param decodeBaseMs fixed cost of one decode step
 * @param decodePerSeqMs added cost per sequence in the decode batch
 * @param decodePerContextTokenMs added cost per token of KV the step's attention reads (the sum of
 *     the batch's prompt + generated tokens): on a small model a 1,000-token context costs as much
 *     per step as the weights, so a model calibrated on short prompts under-predicts long ones
 * @param kvHopBaseMs fixed cost of moving a prompt's KV from a prefill to a decode worker
 * @param kvHopPerTokenMs added cost per prompt token of that move
 * @param chunkTokens the longest prefill chunk a colocated worker puts into one step (vLLM's {@code
 *     --max-num-batched-tokens})
 * @param maxBatch the most sequences a worker decodes at once ({@code --max-num-seqs})
 */
public record StepModel(
    double prefillBaseMs,
    double prefillPerTokenMs,
    double decodeBaseMs,
    double decodePerSeqMs,
    double decodePerContextTokenMs,
    double kvHopBaseMs,
    double kvHopPerTokenMs,
    int chunkTokens,
    int maxBatch) {

  public StepModel {
    for (double v :
        new double[] {
          prefillBaseMs,
          prefillPerTokenMs,
          decodeBaseMs,
          decodePerSeqMs,
          decodePerContextTokenMs,
          kvHopBaseMs,
          kvHopPerTokenMs
        }) {
      if (!(v >= 0) || Double.isInfinite(v)) {
        throw new IllegalArgumentException("step model times must be finite and >= 0");
      }
    }
    if (chunkTokens < 1 || maxBatch < 1) {
      throw new IllegalArgumentException("chunkTokens and maxBatch must be >= 1");
    }
  }

  /** Milliseconds to prefill {@code tokens} prompt tokens in one go. */
  public double prefillMs(int tokens) {
    return prefillBaseMs + prefillPerTokenMs * tokens;
  }

  /**
   * Milliseconds of one decode step over {@code batch} sequences holding {@code contextTokens}
   * tokens of KV between them.
   */
  public double decodeStepMs(int batch, long contextTokens) {
    return decodeBaseMs + decodePerSeqMs * batch + decodePerContextTokenMs * contextTokens;
  }

  /** Milliseconds to move the KV of a {@code tokens}-token prompt between workers. */
  public double kvHopMs(int tokens) {
    return kvHopBaseMs + kvHopPerTokenMs * tokens;
  }
}
