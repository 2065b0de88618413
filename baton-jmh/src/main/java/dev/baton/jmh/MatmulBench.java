package dev.baton.jmh;

import dev.baton.engine.kernel.ScalarKernels;
import dev.baton.engine.kernel.Tensor;
import dev.baton.engine.kernel.VectorKernels;
import dev.baton.model.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
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
 * One matrix product of a {@code rows x cols} weight matrix with {@code n} tokens, single thread,
 * per weight type, Vector API kernel and its scalar twin. {@code n = 1} is decode (matrix-vector),
 * larger {@code n} the GEMM path of prefill and batched decode. Report: time per product; weight
 * GB/s = rows * rowBytes / time; GFLOP/s = 2 * rows * cols * n / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulBench {

  @Param({"Q8_0", "Q4_0", "Q4_K", "Q6_K", "F16", "BF16", "F32"})
  public String type;

  @Param({"1", "8", "64"})
  public int n;

  @Param({"2048"})
  public int rows;

  @Param({"2048"})
  public int cols;

  private Arena arena;
  private Tensor w;
  private float[] x;
  private float[] out;
  private float[] scratch;

  @Setup(Level.Trial)
  public void setUp() {
    GgmlType t = GgmlType.valueOf(type);
    arena = Arena.ofShared();
    w = randomTensor(arena, t, rows, cols, 1);
    Random r = new Random(2);
    x = new float[n * cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    out = new float[n * rows];
    scratch = new float[VectorKernels.scratchFloats(cols)];
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  @Benchmark
  public float[] vector() {
    VectorKernels.gemm(w, x, cols, n, out, rows, 0, rows, scratch);
    return out;
  }

  @Benchmark
  public float[] scalar() {
    ScalarKernels.gemm(w, x, cols, n, out, rows, 0, rows, scratch);
    return out;
  }

  /** Random quants with small finite scales, as in the kernel tests. */
  static Tensor randomTensor(Arena arena, GgmlType type, int rows, int cols, long seed) {
    Random rnd = new Random(seed);
    ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    long bytes = rows * type.bytesFor(cols);
    MemorySegment s = arena.allocate(bytes, 64);
    for (long i = 0; i < bytes; i++) {
      s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
    }
    for (long o = 0; o < bytes; o += type.bytesPerBlock) {
      switch (type) {
        case F32 ->
            s.set(
                ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                o,
                (float) rnd.nextGaussian());
        case F16 -> s.set(i16, o, Float.floatToFloat16((float) rnd.nextGaussian()));
        case BF16 ->
            s.set(i16, o, (short) (Float.floatToIntBits((float) rnd.nextGaussian()) >>> 16));
        case Q8_0, Q4_0 -> s.set(i16, o, Float.floatToFloat16(rnd.nextFloat() * 0.02f));
        case Q4_K -> {
          s.set(i16, o, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
          s.set(i16, o + 2, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
        }
        case Q6_K -> s.set(i16, o + 208, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
      }
    }
    return new Tensor("bench", s, type, rows, cols);
  }
}
