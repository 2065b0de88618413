package dev.baton.engine;

import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.engine.sample.Sampler;
import dev.baton.engine.sample.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Generates tokens for one prompt, or for several copies of it decoded together (the batched decode
 * benchmark), straight on a {@link ModelRunner} without a scheduler: what {@code baton generate}
 * runs. Sequence {@code s} uses KV blocks {@code [s * blocksPerSeq, (s+1) * blocksPerSeq)} of the
 * runner's pool.
 */
public final class Generation {

  /**
   * What a run produced and how long its phases took.
   *
   * @param outputs generated token ids per sequence
   * @param prefillNanos time of the prefill step (all sequences' prompts, one step)
   * @param decodeNanos time of all later steps
   * @param decodeTokens tokens produced by the later steps (all sequences)
   */
  public record Result(
      List<int[]> outputs,
      long prefillNanos,
      long decodeNanos,
      int decodeTokens,
      long prefillCpuNanos,
      long decodeCpuNanos) {

    public double prefillTokensPerSecond(int promptTokens) {
      return prefillNanos == 0 ? 0 : promptTokens * outputs.size() / (prefillNanos / 1e9);
    }

    public double decodeTokensPerSecond() {
      return decodeNanos == 0 ? 0 : decodeTokens / (decodeNanos / 1e9);
    }

    /**
     * Decode tokens per second of {@code threads} cores' worth of process CPU time: the speed the
     * run would have had with the cores to itself. On a shared, loaded machine wall-clock rates
     * measure the neighbours; this measures the code.
     */
    public double decodeTokensPerCpuSecond(int threads) {
      return decodeCpuNanos == 0 ? 0 : decodeTokens / (decodeCpuNanos / 1e9 / threads);
    }

    /** Prefill tokens per second of {@code threads} cores' CPU time (see above). */
    public double prefillTokensPerCpuSecond(int promptTokens, int threads) {
      return prefillCpuNanos == 0
          ? 0
          : promptTokens * outputs.size() / (prefillCpuNanos / 1e9 / threads);
    }
  }

  /** Receives each token of sequence 0 as it is sampled (for streaming output). */
  @FunctionalInterface
  public interface TokenListener {
    void onToken(int token);
  }

  private Generation() {}

  /** KV blocks one sequence of {@code tokens} positions needs. */
  public static int blocksFor(int tokens, int blockSize) {
    return (tokens + blockSize - 1) / blockSize;
  }

  /**
   * Runs {@code params.size()} sequences of {@code prompt}, each with its own sampler, for at most
   * {@code maxTokens} tokens; a sequence stops early at a token {@code isStop} accepts (the stop
   * token is kept in its output).
   */
  public static Result run(
      ModelRunner runner,
      int[] prompt,
      int maxTokens,
      List<SamplingParams> params,
      IntPredicate isStop,
      TokenListener listener) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt is empty");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("the number of tokens to generate must be >= 1");
    }
    int total = prompt.length + maxTokens;
    if (prompt.length >= runner.contextLength()) {
      throw new IllegalArgumentException(
          "prompt of "
              + prompt.length
              + " tokens does not fit the context of "
              + runner.contextLength()
              + " tokens");
    }
    total = Math.min(total, runner.contextLength());
    int seqs = params.size();
    int blockSize = runner.kvPool().blockSize();
    int perSeq = blocksFor(total, blockSize);
    if ((long) perSeq * seqs > runner.kvPool().numBlocks()) {
      throw new IllegalArgumentException(
          seqs
              + " sequences of "
              + total
              + " tokens need "
              + perSeq * seqs
              + " KV blocks, the pool has "
              + runner.kvPool().numBlocks());
    }
    int[][] tables = new int[seqs][perSeq];
    int[][] history = new int[seqs][total];
    List<Sampler> samplers = new ArrayList<>();
    List<SeqChunk> step = new ArrayList<>();
    for (int s = 0; s < seqs; s++) {
      for (int b = 0; b < perSeq; b++) {
        tables[s][b] = s * perSeq + b;
      }
      System.arraycopy(prompt, 0, history[s], 0, prompt.length);
      samplers.add(new Sampler(params.get(s)));
      step.add(new SeqChunk(tables[s], 0, prompt, true));
    }
    int[] len = new int[seqs];
    boolean[] done = new boolean[seqs];
    java.util.Arrays.fill(len, prompt.length);

    long c0 = processCpuNanos();
    long t0 = System.nanoTime();
    List<float[]> logits = runner.forward(step);
    long prefill = System.nanoTime() - t0;
    long prefillCpu = processCpuNanos() - c0;
    sampleAll(logits, null, samplers, history, len, done, prompt.length, isStop, listener);

    long c1 = processCpuNanos();
    long t1 = System.nanoTime();
    int decoded = 0;
    while (true) {
      step.clear();
      List<Integer> active = new ArrayList<>();
      for (int s = 0; s < seqs; s++) {
        if (!done[s] && len[s] - prompt.length < maxTokens && len[s] < total) {
          step.add(new SeqChunk(tables[s], len[s] - 1, new int[] {history[s][len[s] - 1]}, true));
          active.add(s);
        }
      }
      if (active.isEmpty()) {
        break;
      }
      logits = runner.forward(step);
      decoded += active.size();
      sampleAll(logits, active, samplers, history, len, done, prompt.length, isStop, listener);
    }
    long decode = System.nanoTime() - t1;
    long decodeCpu = processCpuNanos() - c1;
    List<int[]> outputs = new ArrayList<>();
    for (int s = 0; s < seqs; s++) {
      outputs.add(java.util.Arrays.copyOfRange(history[s], prompt.length, len[s]));
    }
    return new Result(outputs, prefill, decode, decoded, prefillCpu, decodeCpu);
  }

  /** CPU time of the whole process so far (0 where the JVM cannot tell). */
  public static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return Math.max(0, os.getProcessCpuTime());
    }
    return 0;
  }

  private static void sampleAll(
      List<float[]> logits,
      List<Integer> active,
      List<Sampler> samplers,
      int[][] history,
      int[] len,
      boolean[] done,
      int promptLen,
      IntPredicate isStop,
      TokenListener listener) {
    for (int i = 0; i < logits.size(); i++) {
      int s = active == null ? i : active.get(i);
      int token = samplers.get(s).sample(logits.get(i), history[s], promptLen, len[s]);
      history[s][len[s]++] = token;
      if (s == 0 && listener != null) {
        listener.onToken(token);
      }
      if (isStop.test(token) || samplers.get(s).params().stopTokenIds().contains(token)) {
        done[s] = true;
      }
    }
  }
}
