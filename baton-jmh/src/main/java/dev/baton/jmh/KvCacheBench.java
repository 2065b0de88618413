package dev.baton.jmh;

import dev.baton.kv.offload.BlockKey;
import dev.baton.kv.offload.L1Store;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
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
 * The offload connector's L1 load against a plain memcpy of the same bytes: {@code blocks} KV
 * blocks of {@code blockKiB} KiB (1024 KiB = one block of the 1b preset in f32: 16 layers x K,V x 8
 * heads x 16 tokens x 64 dims x 4 bytes) copied into engine block memory, once through {@link
 * L1Store#copyTo} (lookup, pin, copy, unpin per block) and once as bare {@code MemorySegment.copy}
 * from one segment. Both copy from and to the same kind of memory. Target: L1 time <= memcpy / 0.7.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class KvCacheBench {

  @Param({"1024", "64"})
  public int blockKiB;

  @Param({"64"})
  public int blocks;

  private Arena arena;
  private L1Store l1;
  private BlockKey[] keys;
  private MemorySegment source;
  private MemorySegment engine;
  private long blockBytes;

  @Setup(Level.Trial)
  public void setUp() {
    blockBytes = blockKiB * 1024L;
    arena = Arena.ofShared();
    source = arena.allocate(blockBytes * blocks, 64);
    engine = arena.allocate(blockBytes * blocks, 64);
    for (long i = 0; i < source.byteSize(); i += 4096) {
      source.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
    }
    l1 = new L1Store(blockBytes * blocks * 2, blockBytes, "s3fifo");
    keys = new BlockKey[blocks];
    for (int b = 0; b < blocks; b++) {
      byte[] h = new byte[32];
      ByteBuffer.wrap(h).putInt(b);
      keys[b] = new BlockKey(h);
      l1.put(keys[b], source.asSlice(b * blockBytes, blockBytes));
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    l1.close();
    arena.close();
  }

  @Benchmark
  public void memcpy() {
    for (int b = 0; b < blocks; b++) {
      MemorySegment.copy(source, b * blockBytes, engine, b * blockBytes, blockBytes);
    }
  }

  @Benchmark
  public boolean l1Load() {
    boolean all = true;
    for (int b = 0; b < blocks; b++) {
      all &= l1.copyTo(keys[b], engine.asSlice(b * blockBytes, blockBytes));
    }
    return all;
  }
}
