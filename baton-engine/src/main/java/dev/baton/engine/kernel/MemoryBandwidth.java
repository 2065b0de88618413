package dev.baton.engine.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures how fast this machine reads memory, the roof of single-stream decode: every decode step
 * streams all weights once. It reads the given segments (normally the mapped weights themselves, so
 * page cache, huge pages and NUMA placement are the decoder's) with all threads, each thread
 * streaming its own contiguous part, as the matrix kernels do.
 */
public final class MemoryBandwidth {

  private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

  private MemoryBandwidth() {}

  /** Read bandwidth in bytes per second: median of {@code repeats} passes, by wall clock. */
  public static double measure(List<MemorySegment> segments, Parallel parallel, int repeats) {
    return measureBoth(segments, parallel, repeats)[0];
  }

  /**
   * {@code [wall, cpu]}: the median bandwidth by wall clock, and by {@code threads} cores' worth of
   * process CPU time (what the threads read while they ran, which is what a loaded, shared machine
   * lets one compare with the decoder's CPU-time speed).
   */
  public static double[] measureBoth(List<MemorySegment> segments, Parallel parallel, int repeats) {
    long total = 0;
    for (MemorySegment s : segments) {
      total += s.byteSize();
    }
    long chunk = 64L * LONGS.vectorByteSize();
    long units = total / chunk;
    int threads = parallel.threads();
    long[] sink = new long[threads];
    // Compile the read loop first: one pass is one long call, which the interpreter would crawl.
    MemorySegment small = segments.get(0).asSlice(0, Math.min(segments.get(0).byteSize(), 1 << 16));
    for (int i = 0; i < 20_000; i++) {
      sink[0] ^= read(List.of(small), 0, small.byteSize());
    }
    double[] rates = new double[repeats];
    double[] cpuRates = new double[repeats];
    for (int rep = 0; rep < repeats; rep++) {
      long cpu = dev.baton.engine.Generation.processCpuNanos();
      long start = System.nanoTime();
      parallel.run(
          th -> {
            long a = units * th / threads * chunk;
            long b = units * (th + 1) / threads * chunk;
            sink[th] ^= read(segments, a, b);
          });
      rates[rep] = (double) (units * chunk) / ((System.nanoTime() - start) / 1e9);
      long cpuUsed = dev.baton.engine.Generation.processCpuNanos() - cpu;
      cpuRates[rep] = cpuUsed <= 0 ? 0 : (double) (units * chunk) / (cpuUsed / 1e9 / threads);
    }
    if (Arrays.stream(sink).sum() == 42) {
      System.err.print(""); // keeps the reads observable
    }
    Arrays.sort(rates);
    Arrays.sort(cpuRates);
    return new double[] {rates[repeats / 2], cpuRates[repeats / 2]};
  }

  /** XOR of every long in the byte range {@code [a, b)} of the concatenated segments. */
  private static long read(List<MemorySegment> segments, long a, long b) {
    LongVector acc0 = LongVector.zero(LONGS);
    LongVector acc1 = acc0;
    int step = LONGS.vectorByteSize();
    long base = 0;
    for (MemorySegment s : segments) {
      long lo = Math.max(a, base) - base;
      long hi = Math.min(b, base + s.byteSize()) - base;
      long i = lo;
      for (; i + 2L * step <= hi; i += 2L * step) {
        acc0 =
            acc0.lanewise(
                VectorOperators.XOR,
                LongVector.fromMemorySegment(LONGS, s, i, ByteOrder.LITTLE_ENDIAN));
        acc1 =
            acc1.lanewise(
                VectorOperators.XOR,
                LongVector.fromMemorySegment(LONGS, s, i + step, ByteOrder.LITTLE_ENDIAN));
      }
      base += s.byteSize();
    }
    return acc0.lanewise(VectorOperators.XOR, acc1).reduceLanes(VectorOperators.XOR);
  }
}
