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
}
