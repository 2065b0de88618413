package dev.baton.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.kv.KvConnector.Finish;
import dev.baton.kv.KvConnector.Match;
import dev.baton.kv.KvConnector.Request;
import dev.baton.kv.offload.OffloadConnector;
import dev.baton.kv.offload.OffloadConnectorTest;
import dev.baton.kv.offload.OffloadConnectorTest.Worker;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The MultiConnector chains its parts: a prefix from the part that has the longest, the rest from
 * the next. Two offload parts with different contents stand for "cache + peer" here; the P2P part
 * is exercised in the worker ITs.
 */
class MultiConnectorTest {

  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closing.reversed()) {
      c.close();
    }
  }

  private Worker worker(String json) {
    OffHeapBlockMemory memory =
        OffHeapBlockMemory.allocate(
            64,
            OffloadConnectorTest.BLOCK_SIZE,
            OffloadConnectorTest.BLOCK_BYTES,
            OffloadConnectorTest.LAYOUT);
    KvConnector connector = KvConnectors.create(KvTransferConfig.parse(json));
    closing.add(memory);
    closing.add(connector);
    connector.registerKvCache(memory);
    return new Worker(memory, connector);
  }

  private static final String TWO_PARTS =
      "{\"kv_connector\":\"MultiConnector\",\"kv_role\":\"kv_both\","
          + "\"kv_connector_extra_config\":{\"connectors\":["
          + "{\"kv_connector\":\"OffloadConnector\",\"kv_connector_extra_config\":{}},"
          + "{\"kv_connector\":\"OffloadConnector\",\"kv_connector_extra_config\":{}}]}}";

  @Test
  void theLongestPrefixWins() {
    Worker multi = worker(TWO_PARTS);
    MultiConnector m = (MultiConnector) multi.connector();
    int[] tokens = OffloadConnectorTest.prompt(25, 9); // 6 full blocks
    finishOn(multi, m.parts().get(0), OffloadConnectorTest.request(prefix(tokens, 9), null, null));
    finishOn(multi, m.parts().get(1), OffloadConnectorTest.request(prefix(tokens, 17), null, null));

    Request r = OffloadConnectorTest.request(tokens, null, null);
    Match match = OffloadConnectorTest.matchWhenKnown(multi, r, 0);
    assertThat(match).isEqualTo(new Match(16, true)); // part two's 4 blocks, not part one's 2
    int[] blocks = OffloadConnectorTest.range(40, 7);
    assertThat(OffloadConnectorTest.load(multi, r, blocks, match.tokens())).isTrue();
    OffloadConnectorTest.assertLoaded(multi, r, blocks, 4);
  }

  @Test
  void prefixFromOnePartSuffixFromTheNext() {
    Worker multi = worker(TWO_PARTS);
    MultiConnector m = (MultiConnector) multi.connector();
    int[] tokens = OffloadConnectorTest.prompt(25, 10); // 6 full blocks
    Request full = OffloadConnectorTest.request(tokens, null, null);
    // Part one holds blocks 0-1; part two only blocks 2-3 (as a prefill peer holding the suffix).
    finishOn(multi, m.parts().get(0), OffloadConnectorTest.request(prefix(tokens, 9), null, null));
    Request tail =
        new Request(
            "tail",
            tokens,
            full.blockHashes().subList(2, 4),
            OffloadConnectorTest.BLOCK_SIZE,
            null);
    OffloadConnectorTest.fill(multi.memory().block(2), tokens[8]);
    OffloadConnectorTest.fill(multi.memory().block(3), tokens[12]);
    awaitSaved(multi, m.parts().get(1), tail, new int[] {2, 3});

    Match match = OffloadConnectorTest.matchWhenKnown(multi, full, 0);
    assertThat(match).isEqualTo(new Match(16, true));
    int[] blocks = OffloadConnectorTest.range(50, 7);
    assertThat(OffloadConnectorTest.load(multi, full, blocks, match.tokens())).isTrue();
    OffloadConnectorTest.assertLoaded(multi, full, blocks, 4);
    assertThat(((OffloadConnector) m.parts().get(0)).transferStats().loadsOk()).isEqualTo(1);
    assertThat(((OffloadConnector) m.parts().get(1)).transferStats().loadsOk()).isEqualTo(1);
  }

  private static int[] prefix(int[] tokens, int n) {
    return java.util.Arrays.copyOf(tokens, n);
  }

  private static void awaitSaved(Worker w, KvConnector part, Request r, int[] blocks) {
    assertThat(part.requestFinished(r, blocks, true).delayFree()).isTrue();
    java.util.Set<String> sent = new java.util.HashSet<>();
    org.awaitility.Awaitility.await()
        .until(
            () -> {
              sent.addAll(part.pollFinished().doneSending());
              return sent.contains(r.requestId());
            });
  }

  @Test
  void savesGoToEveryPartAndBlocksAreFreedWhenAllAreDone() {
    Worker multi = worker(TWO_PARTS);
    MultiConnector m = (MultiConnector) multi.connector();
    int[] tokens = OffloadConnectorTest.prompt(13, 11);
    Finish f =
        OffloadConnectorTest.computeAndFinish(
            multi,
            OffloadConnectorTest.request(tokens, null, null),
            OffloadConnectorTest.range(0, 4));
    assertThat(f.delayFree()).isTrue();
    for (KvConnector part : m.parts()) {
      assertThat(((OffloadConnector) part).stats().savedBlocks()).isEqualTo(3);
    }
  }

  @Test
  void badConfigsAreClearErrors() {
    assertThatThrownBy(
            () ->
                KvTransferConfig.parse(
                    "{\"kv_connector\":\"MultiConnector\",\"kv_role\":\"kv_both\"}"))
        .hasMessageContaining("connectors");
    assertThatThrownBy(
            () ->
                KvTransferConfig.parse(
                    "{\"kv_connector\":\"MultiConnector\",\"kv_role\":\"kv_both\","
                        + "\"kv_connector_extra_config\":{\"connectors\":["
                        + "{\"kv_connector\":\"OffloadConnector\",\"kv_connector_extra_config\":"
                        + "{\"l1_eviction\":\"mru\"}}]}}"))
        .hasMessageContaining("l1_eviction");
  }

  /** Fills the blocks, finishes the request on {@code part} only, waits for its save. */
  private static void finishOn(Worker w, KvConnector part, Request r) {
    OffloadConnectorTest.computeAndFinish(
        new Worker(w.memory(), part), r, OffloadConnectorTest.range(0, r.blockHashes().size() + 1));
  }
}
