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
 * @param prefillInterference how much longer prefill work takes while every other worker of the
 *     fleet decodes, as a fraction (0.4: 1.4x as long), in proportion to the share of the others
 *     that decode: workers sharing one host's cores, memory bandwidth and the HTTP threads around
 *     them slow each other (on the 2-core validation machine a decode step took ~2x as long while
 *     the prefill worker prefilled). 0 for workers on machines of their own
 * @param decodeInterference how much longer a decode step takes while every other worker prefills
 * @param prefillBesidePrefillInterference prefill work while every other worker prefills: a
 *     neighbour that prefills runs one compute thread, one that decodes also keeps the HTTP threads
 *     of the worker, the gateway and the client busy relaying its stream
 * @param decodeBesideDecodeInterference a decode step while every other worker decodes
 * @param decodeJitterMs how far each of a run of real decode steps, in order, lay from their mean
 *     (ms, mean about 0), measured on one worker decoding while no other computes: the simulator
 *     adds these to its decode steps in the measured order from a random place, so a request's TPOT
 *     varies as the real one does. A mean step model gives every lone decode the same TPOT, while
 *     real streams lose the core for 2-30 ms now and then, in clusters (the P/D TPOT p99 of the
 *     validation run was 1.6x its median, the mean model's 1.0x). Empty: no jitter
 * @param decodeJitterBesidePrefillMs the same, measured while another worker prefilled (what the
 *     simulator uses for a step while others prefill, with the share of them that do)
 * @param prefillBackToBack how much longer (negative: shorter) a P/D prefill takes when it starts
 *     right after the one before on the same worker than when it finds the worker idle, as a
 *     fraction (-0.1: 0.9x). On the 2-core validation machine a queued prefill followed the one
 *     before by ~250 ms where a prefill that found the worker idle took ~275 ms of engine steps
 * @param kvCapacityTokens the tokens of KV one worker holds (its KV blocks x block size), for the
 *     KV usage the gateway scrapes ({@code vllm:kv_cache_usage_perc}) and the {@code pd} and {@code
 *     least-kv-cache} policies read; 0: unknown, the usage reads 0 (model files from before it)
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
    int maxBatch,
    double prefillInterference,
    double decodeInterference,
    double prefillBesidePrefillInterference,
    double decodeBesideDecodeInterference,
    double[] decodeJitterMs,
    double[] decodeJitterBesidePrefillMs,
    double prefillBackToBack,
    long kvCapacityTokens) {

  private static final double[] NO_JITTER = new double[0];

  /** A model without decode jitter: every step takes its mean time. */
  public StepModel(
      double prefillBaseMs,
      double prefillPerTokenMs,
      double decodeBaseMs,
      double decodePerSeqMs,
      double decodePerContextTokenMs,
      double kvHopBaseMs,
      double kvHopPerTokenMs,
      int chunkTokens,
      int maxBatch,
      double prefillInterference,
      double decodeInterference,
      double prefillBesidePrefillInterference,
      double decodeBesideDecodeInterference) {
    this(
        prefillBaseMs,
        prefillPerTokenMs,
        decodeBaseMs,
        decodePerSeqMs,
        decodePerContextTokenMs,
        kvHopBaseMs,
        kvHopPerTokenMs,
        chunkTokens,
        maxBatch,
        prefillInterference,
        decodeInterference,
        prefillBesidePrefillInterference,
        decodeBesideDecodeInterference,
        NO_JITTER,
        NO_JITTER,
        0,
        0);
  }

  /** A model of workers that do not slow each other (each on a machine of its own). */
  public StepModel(
      double prefillBaseMs,
      double prefillPerTokenMs,
      double decodeBaseMs,
      double decodePerSeqMs,
      double decodePerContextTokenMs,
      double kvHopBaseMs,
      double kvHopPerTokenMs,
      int chunkTokens,
      int maxBatch) {
    this(
        prefillBaseMs,
        prefillPerTokenMs,
        decodeBaseMs,
        decodePerSeqMs,
        decodePerContextTokenMs,
        kvHopBaseMs,
        kvHopPerTokenMs,
        chunkTokens,
        maxBatch,
        0,
        0,
        0,
        0);
  }

  public StepModel {
    for (double v :
        new double[] {
          prefillBaseMs,
          prefillPerTokenMs,
          decodeBaseMs,
          decodePerSeqMs,
          decodePerContextTokenMs,
          kvHopBaseMs,
          kvHopPerTokenMs,
          prefillInterference,
          decodeInterference,
          prefillBesidePrefillInterference,
          decodeBesideDecodeInterference
        }) {
      if (!(v >= 0) || Double.isInfinite(v)) {
        throw new IllegalArgumentException("step model times must be finite and >= 0");
      }
    }
    // Model files written before the jitter terms existed have neither.
    decodeJitterMs = decodeJitterMs == null ? NO_JITTER : decodeJitterMs.clone();
    decodeJitterBesidePrefillMs =
        decodeJitterBesidePrefillMs == null ? NO_JITTER : decodeJitterBesidePrefillMs.clone();
    for (double[] series : new double[][] {decodeJitterMs, decodeJitterBesidePrefillMs}) {
      for (double v : series) {
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException("decode jitter must be finite");
        }
      }
    }
    if (!(prefillBackToBack > -1) || Double.isInfinite(prefillBackToBack)) {
      throw new IllegalArgumentException("prefillBackToBack must be finite and > -1");
    }
    if (kvCapacityTokens < 0) {
      throw new IllegalArgumentException("kvCapacityTokens must be >= 0 (0: unknown)");
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
   * Milliseconds a P/D prefill worker takes for {@code tokens}, started right after its previous
   * prefill ({@code backToBack}) or on an idle worker.
   */
  public double prefillMs(int tokens, boolean backToBack) {
    return prefillMs(tokens) * (backToBack ? 1 + prefillBackToBack : 1);
  }

  /**
   * Milliseconds of one decode step over {@code batch} sequences holding {@code contextTokens}
   * tokens of KV between them.
   */
  public double decodeStepMs(int batch, long contextTokens) {
    return decodeBaseMs + decodePerSeqMs * batch + decodePerContextTokenMs * contextTokens;
  }

  /** Whether workers slow each other down, so the simulator has to track who computes. */
  public boolean interferes() {
    return prefillInterference > 0
        || decodeInterference > 0
        || prefillBesidePrefillInterference > 0
        || decodeBesideDecodeInterference > 0;
  }

  /**
   * How many times as long {@code prefill} (else decode) work takes while the given shares of the
   * fleet's other workers prefill and decode.
   */
  public double slowdown(boolean prefill, double prefillingShare, double decodingShare) {
    return prefill
        ? 1
            + prefillBesidePrefillInterference * prefillingShare
            + prefillInterference * decodingShare
        : 1 + decodeInterference * prefillingShare + decodeBesideDecodeInterference * decodingShare;
  }

  /** Whether decode steps vary around their mean ({@link #decodeJitterMs}). */
  public boolean jitters() {
    return decodeJitterMs.length > 0 || decodeJitterBesidePrefillMs.length > 0;
  }

  /** The same model with workers that hold {@code tokens} tokens of KV each. */
  public StepModel withKvCapacity(long tokens) {
    return new StepModel(
        prefillBaseMs,
        prefillPerTokenMs,
        decodeBaseMs,
        decodePerSeqMs,
        decodePerContextTokenMs,
        kvHopBaseMs,
        kvHopPerTokenMs,
        chunkTokens,
        maxBatch,
        prefillInterference,
        decodeInterference,
        prefillBesidePrefillInterference,
        decodeBesideDecodeInterference,
        decodeJitterMs,
        decodeJitterBesidePrefillMs,
        prefillBackToBack,
        tokens);
  }

  /** Milliseconds to move the KV of a {@code tokens}-token prompt between workers. */
  public double kvHopMs(int tokens) {
    return kvHopBaseMs + kvHopPerTokenMs * tokens;
  }
}
