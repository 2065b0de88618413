package dev.baton.engine.sched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class BlockManagerTest {

  private static byte[] hash(int i) {
    byte[] h = new byte[32];
    h[0] = (byte) i;
    h[31] = 1;
    return h;
  }

  @Test
  void evictingACachedBlockAndResettingAreReportedAsKvEvents() {
    List<String> events = new java.util.ArrayList<>();
    KvEventSink sink =
        new KvEventSink() {
          @Override
          public void removed(byte[][] hashes) {
            events.add("removed " + hashes[0][0]);
          }

          @Override
          public void cleared() {
            events.add("cleared");
          }
        };
    BlockManager m = new BlockManager(2, true, sink);
    int[] a = m.allocate(2);
    assertThat(m.cache(a[0], hash(1))).isTrue();
    assertThat(m.cache(a[1], hash(1))).isFalse(); // a duplicate: not newly cached
    assertThat(m.cache(a[1], hash(2))).isTrue();
    m.release(new int[] {a[1], a[0]});
    assertThat(events).isEmpty(); // freed blocks keep their hashes
    m.allocate(1); // reuses the least recently freed block: block of hash 2
    assertThat(events).containsExactly("removed 2");
    assertThat(m.resetPrefixCache()).isEqualTo(1); // block of hash 1 (hash 2's is held)
    assertThat(events).containsExactly("removed 2", "removed 1", "cleared");
  }

  @Test
  void allocatesAndReleasesEveryBlock() {
    BlockManager m = new BlockManager(8, true);
    int[] a = m.allocate(5);
    assertThat(a).hasSize(5).doesNotHaveDuplicates();
    assertThat(m.numFreeBlocks()).isEqualTo(3);
    assertThat(m.usage()).isEqualTo(5.0 / 8);
    assertThat(m.allocate(4)).isNull();
    assertThat(m.numFreeBlocks()).isEqualTo(3);
    m.release(a);
    assertThat(m.numFreeBlocks()).isEqualTo(8);
    assertThatThrownBy(() -> m.release(new int[] {a[0]})).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void freedFullBlocksStayCachedUntilEvicted() {
    BlockManager m = new BlockManager(4, true);
    int[] a = m.allocate(2);
    m.cache(a[0], hash(1));
    m.cache(a[1], hash(2));
    m.release(new int[] {a[1], a[0]});
    assertThat(m.cachedPrefix(List.of(hash(1), hash(2), hash(3)))).containsExactly(a[0], a[1]);
    // Two never-used blocks are evicted first, then a[1] (released first), keeping a[0].
    int[] fresh = m.allocate(3);
    assertThat(fresh).contains(a[1]).doesNotContain(a[0]);
    assertThat(m.cachedPrefix(List.of(hash(1), hash(2)))).containsExactly(a[0]);
    assertThat(m.numCachedBlocks()).isEqualTo(1);
  }

  @Test
  void sharedBlocksNeedEveryReleaseBeforeTheyAreFree() {
    BlockManager m = new BlockManager(4, true);
    int[] a = m.allocate(1);
    m.cache(a[0], hash(9));
    List<Integer> hit = m.cachedPrefix(List.of(hash(9)));
    assertThat(m.countFree(hit)).isZero();
    m.acquire(hit);
    assertThat(m.refCount(a[0])).isEqualTo(2);
    m.release(a);
    assertThat(m.numFreeBlocks()).isEqualTo(3);
    m.release(a);
    assertThat(m.numFreeBlocks()).isEqualTo(4);
    // A free cached block taken by a hit leaves the free queue.
    List<Integer> again = m.cachedPrefix(List.of(hash(9)));
    assertThat(m.countFree(again)).isOne();
    m.acquire(again);
    assertThat(m.numFreeBlocks()).isEqualTo(3);
    assertThat(m.allocate(3)).doesNotContain(a[0]);
  }

  @Test
  void withoutPrefixCachingNothingIsShared() {
    BlockManager m = new BlockManager(4, false);
    int[] a = m.allocate(1);
    m.cache(a[0], hash(1));
    assertThat(m.cachedPrefix(List.of(hash(1)))).isEmpty();
    m.release(a);
    assertThat(m.numCachedBlocks()).isZero();
  }

  @Test
  void duplicateHashKeepsTheFirstBlockAndResetForgetsFreeOnes() {
    BlockManager m = new BlockManager(4, true);
    int[] a = m.allocate(2);
    m.cache(a[0], hash(5));
    m.cache(a[1], hash(5));
    assertThat(m.cachedPrefix(List.of(hash(5)))).containsExactly(a[0]);
    m.release(a);
    assertThat(m.resetPrefixCache()).isEqualTo(1);
    assertThat(m.cachedPrefix(List.of(hash(5)))).isEmpty();
    assertThat(m.resetPrefixCache()).isZero();
  }
}
