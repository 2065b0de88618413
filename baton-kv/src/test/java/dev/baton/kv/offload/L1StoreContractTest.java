package dev.baton.kv.offload;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What every L1 eviction policy must give: exact bytes back, the capacity bound, misses. */
class L1StoreContractTest {

  private static final long BLOCK = 256;

  static BlockKey key(int i) {
    byte[] h = new byte[32];
    ByteBuffer.wrap(h).putInt(i);
    return new BlockKey(h);
  }

  static MemorySegment block(Arena arena, int seed) {
    return blockOf(arena, BLOCK, seed);
  }

  static MemorySegment blockOf(Arena arena, long size, int seed) {
    MemorySegment m = arena.allocate(size);
    for (long i = 0; i < size; i++) {
      m.set(ValueLayout.JAVA_BYTE, i, (byte) (seed * 31 + i));
    }
    return m;
  }

  @ParameterizedTest
  @ValueSource(strings = {"s3fifo", "lru", "fifo"})
  void storedBlocksComeBackByteForByte(String policy) {
    try (Arena arena = Arena.ofConfined();
        L1Store l1 = new L1Store(BLOCK * 8, BLOCK, policy)) {
      for (int i = 0; i < 5; i++) {
        assertThat(l1.put(key(i), block(arena, i))).isTrue();
      }
      MemorySegment out = arena.allocate(BLOCK);
      for (int i = 0; i < 5; i++) {
        assertThat(l1.copyTo(key(i), out)).isTrue();
        assertThat(out.mismatch(block(arena, i))).isEqualTo(-1);
      }
      assertThat(l1.copyTo(key(99), out)).isFalse();
      assertThat(l1.stats().hits()).isEqualTo(5);
      assertThat(l1.stats().misses()).isEqualTo(1);
      assertThat(l1.cachedPrefix(List.of(key(0), key(1), key(99), key(2)))).isEqualTo(2);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"s3fifo", "lru", "fifo"})
  void neverHoldsMoreThanItsCapacity(String policy) {
    try (Arena arena = Arena.ofConfined();
        L1Store l1 = new L1Store(BLOCK * 10 + BLOCK / 2, BLOCK, policy)) {
      assertThat(l1.capacityBlocks()).isEqualTo(10);
      Random random = new Random(7);
      MemorySegment out = arena.allocate(BLOCK);
      for (int i = 0; i < 2000; i++) {
        int k = random.nextInt(60);
        if (!l1.copyTo(key(k), out)) {
          assertThat(l1.put(key(k), block(arena, k))).isTrue();
        } else {
          assertThat(out.mismatch(block(arena, k))).as("block %d", k).isEqualTo(-1);
        }
        assertThat(l1.stats().entries()).isLessThanOrEqualTo(10);
        assertThat(l1.allocatedBytes()).isLessThanOrEqualTo(BLOCK * 10 + BLOCK / 2);
      }
      L1Store.Stats s = l1.stats();
      assertThat(s.entries()).isEqualTo(10);
      assertThat(s.stored() - s.evictions()).isEqualTo(10);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"s3fifo", "lru", "fifo"})
  void concurrentReadersAndWritersNeverSeeTornOrForeignBlocks(String policy) throws Exception {
    try (Arena arena = Arena.ofShared();
        L1Store l1 = new L1Store(BLOCK * 16, BLOCK, policy);
        ExecutorService pool = Executors.newFixedThreadPool(4)) {
      List<MemorySegment> blocks = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        blocks.add(block(arena, i));
      }
      List<Future<?>> jobs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int seed = t;
        jobs.add(
            pool.submit(
                () -> {
                  Random random = new Random(seed);
                  MemorySegment out = Arena.ofAuto().allocate(BLOCK);
                  for (int i = 0; i < 5000; i++) {
                    int k = random.nextInt(64);
                    if (l1.copyTo(key(k), out)) {
                      assertThat(out.mismatch(blocks.get(k))).isEqualTo(-1);
                    } else {
                      l1.put(key(k), blocks.get(k));
                    }
                  }
                }));
      }
      for (Future<?> job : jobs) {
        job.get();
      }
      assertThat(l1.stats().entries()).isLessThanOrEqualTo(16);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"s3fifo", "lru", "fifo"})
  void rejectsWrongBlockSizes(String policy) {
    try (Arena arena = Arena.ofConfined();
        L1Store l1 = new L1Store(BLOCK * 4, BLOCK, policy)) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> l1.put(key(1), arena.allocate(BLOCK - 1)))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @org.junit.jupiter.api.Test
  void unknownPolicyAndTooSmallCapacityAreClearErrors() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new L1Store(4096, 256, "arc"))
        .hasMessageContaining("l1_eviction must be s3fifo, lru or fifo");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new L1Store(100, 256, "lru"))
        .hasMessageContaining("holds no block");
  }
}
