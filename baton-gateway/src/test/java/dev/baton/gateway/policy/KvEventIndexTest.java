package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.KvEvents;
import java.util.List;
import org.junit.jupiter.api.Test;

class KvEventIndexTest {

  static final PromptKeys KEYS = new PromptKeys(null, 2, 8);

  static long[] keysOf(int... ids) {
    ObjectNode body = Json.object();
    var arr = body.putArray("prompt");
    for (int id : ids) {
      arr.add(id);
    }
    return KEYS.of(body, false).blockKeys();
  }

  static KvEvents.Batch batch(KvEvents.Event... events) {
    return new KvEvents.Batch(0, List.of(events));
  }

  @Test
  void storedChainsAcrossEventsMatchTheGatewaysOwnKeysAndRemovalForgetsThem() {
    KvEventIndex index = new KvEventIndex(2, 1000);
    assertThat(index.live()).isFalse();
    // the worker stores blocks [1,2] [3,4] in one event, then [5,6] chained to its own hash 20
    index.apply(
        batch(
            new KvEvents.BlockStored(new long[] {10, 20}, null, new int[] {1, 2, 3, 4}, 2, null)));
    index.apply(batch(new KvEvents.BlockStored(new long[] {30}, 20L, new int[] {5, 6}, 2, null)));
    assertThat(index.live()).isTrue();
    assertThat(index.leadingMatches(keysOf(1, 2, 3, 4, 5, 6, 7, 8))).isEqualTo(3);
    assertThat(index.leadingMatches(keysOf(1, 2, 9, 9))).isEqualTo(1);
    assertThat(index.leadingMatches(keysOf(3, 4, 5, 6))).isZero(); // same tokens, other parent
    index.apply(batch(new KvEvents.BlockRemoved(new long[] {20})));
    assertThat(index.leadingMatches(keysOf(1, 2, 3, 4, 5, 6))).isEqualTo(1);
    index.apply(batch(new KvEvents.AllBlocksCleared()));
    assertThat(index.leadingMatches(keysOf(1, 2))).isZero();
    assertThat(index.size()).isZero();
  }

  @Test
  void blocksWithAnUnknownParentOrAnotherBlockSizeAreSkipped() {
    KvEventIndex index = new KvEventIndex(2, 1000);
    index.apply(batch(new KvEvents.BlockStored(new long[] {30}, 99L, new int[] {5, 6}, 2, null)));
    index.apply(
        batch(new KvEvents.BlockStored(new long[] {40}, null, new int[] {1, 2, 3, 4}, 4, null)));
    assertThat(index.size()).isZero();
    assertThat(index.counts()[2]).isEqualTo(2);
  }

  @Test
  void aSaltedChainMatchesOnlyRequestsWithThatSalt() {
    KvEventIndex index = new KvEventIndex(2, 1000);
    index.apply(
        batch(new KvEvents.BlockStored(new long[] {1, 2}, null, new int[] {1, 2, 3, 4}, 2, "t-a")));
    index.apply(batch(new KvEvents.BlockStored(new long[] {3}, 2L, new int[] {5, 6}, 2, null)));
    ObjectNode salted = Json.object();
    salted.put("cache_salt", "t-a");
    salted.putArray("prompt").add(1).add(2).add(3).add(4).add(5).add(6);
    assertThat(index.leadingMatches(KEYS.of(salted, false).blockKeys())).isEqualTo(3);
    assertThat(index.leadingMatches(keysOf(1, 2, 3, 4))).isZero();
  }

  @Test
  void memoryIsCappedByStartingOver() {
    KvEventIndex index = new KvEventIndex(2, 4);
    for (int i = 0; i < 10; i++) {
      index.apply(batch(new KvEvents.BlockStored(new long[] {i}, null, new int[] {i, i}, 2, null)));
    }
    assertThat(index.size()).isLessThanOrEqualTo(4);
  }
}
