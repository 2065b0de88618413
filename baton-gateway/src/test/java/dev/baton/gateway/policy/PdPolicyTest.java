package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.core.Role;
import dev.baton.gateway.TestWorkers;
import dev.baton.gateway.Worker;
import java.util.List;
import org.junit.jupiter.api.Test;

class PdPolicyTest {
  @Test
  void prefillByPrefixMatchAndOutstandingWorkDecodeByLoadAndKv() {
    Worker p0 = TestWorkers.worker(0, Role.PREFILL, null);
    Worker p1 = TestWorkers.worker(1, Role.PREFILL, null);
    Worker d0 = TestWorkers.worker(2, Role.DECODE, null);
    Worker d1 = TestWorkers.worker(3, Role.DECODE, null);
    PrefixIndex index = new PrefixIndex(1024);
    index.record(new long[] {5, 6, 7, 8}, p1.slot());
    d0.scraped(0, 0, 0.9);
    PdPolicy pd = new PdPolicy(java.util.concurrent.ThreadLocalRandom.current());
    PairPolicy.Pair pair =
        pd.choosePair(
            List.of(p0, p1),
            List.of(d0, d1),
            false,
            RouteRequest.of(null, new long[] {5, 6, 7, 8}, index));
    assertThat(pair.prefill()).isSameAs(p1);
    assertThat(pair.decode()).isSameAs(d1);

    // Outstanding prefills outweigh a partial prefix match.
    for (int i = 0; i < 4; i++) {
      p1.begin(true);
    }
    pair =
        pd.choosePair(
            List.of(p0, p1),
            List.of(d0, d1),
            false,
            RouteRequest.of(null, new long[] {5, 6, 99, 98}, index));
    assertThat(pair.prefill()).isSameAs(p0);
  }

  @Test
  void replicaModeKeepsThePairInOneGroup() {
    Worker pa = TestWorkers.worker(0, Role.PREFILL, "a");
    Worker pb = TestWorkers.worker(1, Role.PREFILL, "b");
    Worker da = TestWorkers.worker(2, Role.DECODE, "a");
    Worker db = TestWorkers.worker(3, Role.DECODE, "b");
    TestWorkers.load(da, 5);
    PdPolicy pd = new PdPolicy(java.util.concurrent.ThreadLocalRandom.current());
    for (int i = 0; i < 10; i++) {
      PairPolicy.Pair pair =
          pd.choosePair(List.of(pa, pb), List.of(da, db), true, TestWorkers.request());
      assertThat(pair.prefill().group()).isEqualTo(pair.decode().group());
      assertThat(pair.decode()).isSameAs(db);
    }
    assertThat(pd.choosePair(List.of(pa), List.of(db), true, TestWorkers.request())).isNull();
  }

  /** In replica mode the best pair is a group's best prefill worker with its best decode worker. */
  @Test
  void replicaModePairsEachGroupsBestWorkersAndTakesTheLowestSum() {
    Worker pa1 = TestWorkers.worker(0, Role.PREFILL, "a");
    Worker pa2 = TestWorkers.worker(1, Role.PREFILL, "a");
    Worker pb1 = TestWorkers.worker(2, Role.PREFILL, "b");
    Worker pb2 = TestWorkers.worker(3, Role.PREFILL, "b");
    Worker da1 = TestWorkers.worker(4, Role.DECODE, "a");
    Worker da2 = TestWorkers.worker(5, Role.DECODE, "a");
    Worker db1 = TestWorkers.worker(6, Role.DECODE, "b");
    Worker db2 = TestWorkers.worker(7, Role.DECODE, "b");
    pa2.begin(true);
    pa2.begin(true);
    pb1.begin(true);
    pb2.begin(true);
    TestWorkers.load(da1, 5);
    TestWorkers.load(da2, 4);
    TestWorkers.load(db2, 3);
    // Prefill scores 1 + outstanding/2: pa1 1.0, pa2 2.0, pb1 and pb2 1.5. Decode scores load/5:
    // da1 1.0, da2 0.8, db1 0, db2 0.6. Best of a: 1.0 + 0.8; of b: 1.5 + 0 (either prefill).
    PdPolicy pd = new PdPolicy(new java.util.SplittableRandom(7));
    java.util.Set<Worker> prefillsChosen = new java.util.HashSet<>();
    for (int i = 0; i < 20; i++) {
      PairPolicy.Pair pair =
          pd.choosePair(
              List.of(pa1, pa2, pb1, pb2),
              List.of(da1, da2, db1, db2),
              true,
              TestWorkers.request());
      assertThat(pair.decode()).isSameAs(db1);
      prefillsChosen.add(pair.prefill());
    }
    assertThat(prefillsChosen)
        .as("equal scores broken at random")
        .containsExactlyInAnyOrder(pb1, pb2);
  }
}
