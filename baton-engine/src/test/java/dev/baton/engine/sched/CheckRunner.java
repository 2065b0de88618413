package dev.baton.engine.sched;

import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A tiny deterministic "model" for scheduler tests that really uses the paged KV cache: each
 * forward writes every new token into its slot of the block table, then derives the next-token
 * logits from the whole sequence <em>read back from the KV blocks</em>. A wrong block table, a
 * shared block overwritten, or a cache hit on the wrong block changes the output, which tests
 * compare against {@link #expectedNext} computed from the plain token list.
 */
final class CheckRunner implements ModelRunner {

  static final int VOCAB = 101;

  private final KvBlockPool pool;
  int forwardCalls;
  int argmaxCalls;
  final List<Integer> toPool = new ArrayList<>();
  final List<Integer> fromPool = new ArrayList<>();
  long tokensComputed;

  CheckRunner(int numBlocks, int blockSize) {
    this.pool = new KvBlockPool(numBlocks, blockSize, 1, 1, 1, KvBlockPool.Dtype.F32);
  }

  /** The greedy next token of a sequence, computed without the cache. */
  static int expectedNext(int[] tokens, int count) {
    long h = 7;
    for (int i = 0; i < count; i++) {
      h = (h * 31 + tokens[i] + i) % 1_000_003;
    }
    return (int) (h % VOCAB);
  }

  /** Greedy reference generation of {@code n} tokens (no EOS handling). */
  static int[] expectedOutput(int[] prompt, int n) {
    int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + n);
    for (int i = 0; i < n; i++) {
      seq[prompt.length + i] = expectedNext(seq, prompt.length + i);
    }
    return java.util.Arrays.copyOfRange(seq, prompt.length, seq.length);
  }

  @Override
  public List<float[]> forward(List<SeqChunk> batch) {
    forwardCalls++;
    int bs = pool.blockSize();
    List<float[]> out = new ArrayList<>(batch.size());
    for (SeqChunk c : batch) {
      for (int i = 0; i < c.tokens().length; i++) {
        int pos = c.startPos() + i;
        pool.memory()
            .set(ValueLayout.JAVA_FLOAT, slot(c.blockTable(), pos, bs), (float) c.tokens()[i]);
      }
      tokensComputed += c.tokens().length;
      if (!c.wantLogits()) {
        out.add(null);
        continue;
      }
      int len = c.startPos() + c.tokens().length;
      int[] seq = new int[len];
      for (int pos = 0; pos < len; pos++) {
        seq[pos] = (int) pool.memory().get(ValueLayout.JAVA_FLOAT, slot(c.blockTable(), pos, bs));
      }
      int next = expectedNext(seq, len);
      float[] logits = new float[VOCAB];
      for (int v = 0; v < VOCAB; v++) {
        // Peak at `next`, falling off with distance: greedy picks `next`, sampling has a spread.
        logits[v] = -0.5f * Math.floorMod(v - next, VOCAB);
      }
      out.add(logits);
    }
    return out;
  }

  private long slot(int[] table, int pos, int bs) {
    return pool.runOffset(table[pos / bs], 0, 0, 0) + (long) (pos % bs) * Float.BYTES;
  }

  @Override
  public int[] forwardArgmax(List<SeqChunk> batch) {
    argmaxCalls++;
    return ModelRunner.super.forwardArgmax(batch);
  }

  @Override
  public void kvToPool(int[] blocks) {
    for (int b : blocks) {
      toPool.add(b);
    }
  }

  @Override
  public void kvFromPool(int[] blocks) {
    for (int b : blocks) {
      fromPool.add(b);
    }
  }

  @Override
  public int vocabSize() {
    return VOCAB;
  }

  @Override
  public int contextLength() {
    return 4096;
  }

  @Override
  public KvBlockPool kvPool() {
    return pool;
  }

  @Override
  public void close() {
    pool.close();
  }
}
