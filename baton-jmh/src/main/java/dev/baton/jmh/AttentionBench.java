package dev.baton.jmh;

import dev.baton.engine.KvBlockPool;
import dev.baton.engine.kernel.Attention;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Attention of one token over {@code positions} cached positions in one layer of the 1b preset's
 * shape (32 query heads, 8 kv heads, head dim 64), single thread: the Vector API kernel called once
 * per kv head with its group of 4 query heads (what the runner does) against its scalar twin called
 * once per query head. GFLOP/s = 4 * 32 * positions * 64 / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class AttentionBench {

  static final int HEADS = 32;
  static final int KV_HEADS = 8;
  static final int HEAD_DIM = 64;
  static final int BLOCK = 16;

  @Param({"F32", "F16"})
  public String dtype;

  @Param({"384", "2048"})
  public int positions;

  private KvBlockPool pool;
  private int[] table;
  private float[] q;
  private float[] out;
  private float[] scores;
  private float[] tmp;

  @Setup(Level.Trial)
  public void setUp() {
    int blocks = (positions + BLOCK - 1) / BLOCK;
    pool = new KvBlockPool(blocks, BLOCK, 1, KV_HEADS, HEAD_DIM, KvBlockPool.Dtype.valueOf(dtype));
    table = new int[blocks];
    for (int b = 0; b < blocks; b++) {
      table[b] = blocks - 1 - b; // not in pool order, as after a while of serving
    }
    Random r = new Random(1);
    float[] kv = new float[KV_HEADS * HEAD_DIM];
    for (int p = 0; p < positions; p++) {
      for (int i = 0; i < kv.length; i++) {
        kv[i] = (float) r.nextGaussian();
      }
      Attention.store(pool, 0, table[p / BLOCK], p % BLOCK, kv, 0, kv, 0);
    }
    q = new float[HEADS * HEAD_DIM];
    for (int i = 0; i < q.length; i++) {
      q[i] = (float) r.nextGaussian();
    }
    out = new float[HEADS * HEAD_DIM];
    scores = new float[HEADS / KV_HEADS * positions];
    tmp = new float[BLOCK * HEAD_DIM];
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.close();
  }

  @Benchmark
  public float[] vectorGrouped() {
    int group = HEADS / KV_HEADS;
    for (int g = 0; g < KV_HEADS; g++) {
      int off = g * group * HEAD_DIM;
      Attention.attendVector(
          pool, 0, table, g, positions, group, q, off, 0.125f, out, off, scores, tmp);
    }
    return out;
  }

  @Benchmark
  public float[] scalar() {
    for (int h = 0; h < HEADS; h++) {
      Attention.attendScalar(
          pool,
          0,
          table,
          h / (HEADS / KV_HEADS),
          positions,
          q,
          h * HEAD_DIM,
          0.125f,
          out,
          h * HEAD_DIM,
          scores);
    }
    return out;
  }
}
