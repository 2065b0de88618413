package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixCachePolicyTest {
  private static final PrefixIndexConfig CONFIG =
      new PrefixIndexConfig(1 << 12, 16, 64, 0.3, 8, 1.5);

  @Test
  void sendsAPromptWhereItsPrefixWasSent() {
    List<Worker> ws = TestWorkers.workers(3);
    PrefixIndex index = new PrefixIndex(CONFIG.capacityBlocks());
    index.record(new long[] {1, 2, 3, 4}, ws.get(2).slot());
    index.record(new long[] {1, 2}, ws.get(0).slot());
    PrefixCachePolicy p = new PrefixCachePolicy(CONFIG, new Random(1));
    assertThat(p.choose(ws, RouteRequest.of(null, new long[] {1, 2, 3, 9}, index)))
        .isSameAs(ws.get(2));
    assertThat(p.usesPrefixIndex()).isTrue();
  }

  @Test
  void belowTheThresholdItBalancesLoad() {
    List<Worker> ws = TestWorkers.workers(2);
    PrefixIndex index = new PrefixIndex(CONFIG.capacityBlocks());
    index.record(new long[] {1}, ws.get(0).slot());
    TestWorkers.load(ws.get(0), 2);
    PrefixCachePolicy p = new PrefixCachePolicy(CONFIG, new Random(1));
    // 1 of 10 blocks matched: 0.1 < 0.3
    assertThat(
            p.choose(ws, RouteRequest.of(null, new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, index)))
        .isSameAs(ws.get(1));
  }

  @Test
  void imbalanceOverridesTheCacheMatch() {
    List<Worker> ws = TestWorkers.workers(2);
    PrefixIndex index = new PrefixIndex(CONFIG.capacityBlocks());
    index.record(new long[] {1, 2}, ws.get(0).slot());
    PrefixCachePolicy p = new PrefixCachePolicy(CONFIG, new Random(1));
    TestWorkers.load(ws.get(0), 8);
    assertThat(p.choose(ws, RouteRequest.of(null, new long[] {1, 2}, index))).isSameAs(ws.get(0));
    TestWorkers.load(ws.get(0), 2); // 10 vs 0: abs > 8 and rel > 1.5
    assertThat(p.choose(ws, RouteRequest.of(null, new long[] {1, 2}, index))).isSameAs(ws.get(1));
  }
}
