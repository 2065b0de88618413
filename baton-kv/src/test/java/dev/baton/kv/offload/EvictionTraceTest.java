package dev.baton.kv.offload;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The policies on traces where their differences show: S3-FIFO must keep a hot set that a stream of
 * one-hit wonders (prompts seen once) flushes out of LRU and FIFO.
 */
class EvictionTraceTest {

  /** Hit ratio of a cache of {@code capacity} entries run by {@code policy} over {@code trace}. */
  static double hitRatio(String policy, int capacity, int[] trace) {
    EvictionPolicy p = EvictionPolicy.create(policy, capacity);
    Set<BlockKey> cached = new HashSet<>();
    int hits = 0;
    for (int k : trace) {
      BlockKey key = L1StoreContractTest.key(k);
      if (cached.contains(key)) {
        hits++;
        p.onHit(key);
        continue;
      }
      if (cached.size() >= capacity) {
        cached.remove(p.evict());
      }
      p.onInsert(key);
      cached.add(key);
      assertThat(p.size()).isEqualTo(cached.size());
    }
    return hits / (double) trace.length;
  }

  /** Hot keys 0..hot-1 drawn uniformly, each followed by {@code wonders} never-repeated keys. */
  static int[] hotSetWithOneHitWonders(int hot, int wonders, int length, long seed) {
    Random random = new Random(seed);
    int[] trace = new int[length];
    int next = 1_000_000;
    for (int i = 0; i < length; ) {
      trace[i++] = random.nextInt(hot);
      for (int w = 0; w < wonders && i < length; w++) {
        trace[i++] = next++;
      }
    }
    return trace;
  }

  @Test
  void s3fifoKeepsTheHotSetThatOneHitWondersFlushOutOfLru() {
    int[] trace = hotSetWithOneHitWonders(80, 2, 60_000, 1);
    double s3 = hitRatio("s3fifo", 100, trace);
    double lru = hitRatio("lru", 100, trace);
    double fifo = hitRatio("fifo", 100, trace);
    // Hot accesses are a third of the trace: the best a policy can do is ~1/3.
    assertThat(s3).isGreaterThan(0.30);
    assertThat(s3).isGreaterThan(lru * 1.5);
    assertThat(s3).isGreaterThan(fifo * 1.5);
  }

  @Test
  void aGhostHitGoesStraightToMain() {
    S3FifoPolicy p = new S3FifoPolicy(10); // small queue of 1
    BlockKey a = L1StoreContractTest.key(1);
    p.onInsert(a);
    assertThat(p.evict()).isEqualTo(a); // no hit: out of small, remembered as a ghost
    p.onInsert(a); // back while a ghost: into main
    for (int i = 2; i < 11; i++) {
      p.onInsert(L1StoreContractTest.key(i));
    }
    // Small holds keys without hits, which go first; a (in main) survives them.
    for (int i = 0; i < 9; i++) {
      assertThat(p.evict()).isNotEqualTo(a);
    }
    assertThat(p.evict()).isEqualTo(a);
  }

  @Test
  void lruAndFifoDifferOnlyInWhatAHitDoes() {
    for (String name : new String[] {"lru", "fifo"}) {
      EvictionPolicy p = EvictionPolicy.create(name, 3);
      p.onInsert(L1StoreContractTest.key(1));
      p.onInsert(L1StoreContractTest.key(2));
      p.onHit(L1StoreContractTest.key(1));
      assertThat(p.evict()).isEqualTo(L1StoreContractTest.key(name.equals("lru") ? 2 : 1));
    }
  }

  @Test
  void withoutOneHitWondersLruIsNotWorseThanS3fifoByMuch() {
    // A plain looping hot set that fits: every policy hits nearly always.
    int[] trace = new int[10_000];
    for (int i = 0; i < trace.length; i++) {
      trace[i] = i % 50;
    }
    assertThat(hitRatio("s3fifo", 100, trace)).isGreaterThan(0.99);
    assertThat(hitRatio("lru", 100, trace)).isGreaterThan(0.99);
  }
}
