package dev.baton.kv.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.BlockHash;
import dev.baton.core.Json;
import dev.baton.kv.KvConnector;
import dev.baton.kv.KvConnector.Finish;
import dev.baton.kv.KvConnector.Finished;
import dev.baton.kv.KvConnector.Match;
import dev.baton.kv.KvConnector.Request;
import dev.baton.kv.KvConnectors;
import dev.baton.kv.KvTransferConfig;
import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.testkit.RedisServerProcess;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The offload connector driven the way the engine drives it (match, allocate, poll, finish) over
 * real block memory, and a real redis-server for L2: two connectors here are two workers.
 */
public class OffloadConnectorTest {

  public static final int BLOCK_SIZE = 4;
  public static final long BLOCK_BYTES = 1024;
  public static final String LAYOUT = "test/layers=1/block=4/float32";
  private static final AtomicInteger IDS = new AtomicInteger();

  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closing.reversed()) {
      c.close();
    }
  }

  /** One worker: block memory and its connector. */
  public record Worker(OffHeapBlockMemory memory, KvConnector connector) {}

  Worker worker(String json) {
    OffHeapBlockMemory memory = OffHeapBlockMemory.allocate(64, BLOCK_SIZE, BLOCK_BYTES, LAYOUT);
    KvConnector connector = KvConnectors.create(KvTransferConfig.parse(json));
    closing.add(memory);
    closing.add(connector);
    connector.registerKvCache(memory);
    return new Worker(memory, connector);
  }

  public static String offload(String role, String extra) {
    return "{\"kv_connector\":\"OffloadConnector\",\"kv_role\":\""
        + role
        + "\",\"kv_connector_extra_config\":"
        + extra
        + "}";
  }

  public static int[] prompt(int length, int seed) {
    int[] tokens = new int[length];
    for (int i = 0; i < length; i++) {
      tokens[i] = seed * 1000 + i;
    }
    return tokens;
  }

  public static Request request(int[] tokens, String salt, JsonNode params) {
    List<byte[]> hashes =
        BlockHash.chain(tokens, tokens.length, BLOCK_SIZE, BlockHash.extraKeys("m", "f32", salt));
    return new Request("r" + IDS.incrementAndGet(), tokens, hashes, BLOCK_SIZE, params);
  }

  public static void fill(MemorySegment block, int seed) {
    for (long i = 0; i < block.byteSize(); i++) {
      block.set(ValueLayout.JAVA_BYTE, i, (byte) (seed * 7 + i));
    }
  }

  /** Computes the request on {@code w} (fills its blocks) and finishes it; returns the answer. */
  public static Finish computeAndFinish(Worker w, Request r, int[] blocks) {
    for (int i = 0; i < blocks.length; i++) {
      fill(w.memory().block(blocks[i]), r.promptTokens()[i * BLOCK_SIZE]);
    }
    Finish finish = w.connector().requestFinished(r, blocks, true);
    if (finish.delayFree()) {
      Set<String> sent = new HashSet<>();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                sent.addAll(w.connector().pollFinished().doneSending());
                return sent.contains(r.requestId());
              });
    }
    return finish;
  }

  /** Asks until the connector knows (an L2 lookup answers "ask later" first). */
  public static Match matchWhenKnown(Worker w, Request r, int computed) {
    Match[] m = new Match[1];
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> (m[0] = w.connector().matchedTokens(r, computed)).tokens() >= 0);
    return m[0];
  }

  /** Allocates {@code blocks}, loads, and waits for the load's outcome: true when loaded. */
  public static boolean load(Worker w, Request r, int[] blocks, int tokens) {
    w.connector().afterAllocate(r, blocks, tokens);
    if (tokens == 0) {
      return false;
    }
    boolean[] ok = new boolean[1];
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              Finished f = w.connector().pollFinished();
              ok[0] = f.doneRecving().contains(r.requestId());
              return ok[0] || f.failedRecving().contains(r.requestId());
            });
    return ok[0];
  }

  public static void assertLoaded(Worker w, Request r, int[] blocks, int count) {
    for (int i = 0; i < count; i++) {
      MemorySegment expected = java.lang.foreign.Arena.ofAuto().allocate(BLOCK_BYTES);
      fill(expected, r.promptTokens()[i * BLOCK_SIZE]);
      assertThat(w.memory().block(blocks[i]).mismatch(expected)).as("block %d", i).isEqualTo(-1);
    }
  }

  public static int[] range(int from, int count) {
    int[] out = new int[count];
    for (int i = 0; i < count; i++) {
      out[i] = from + i;
    }
    return out;
  }

  @Test
  void aFinishedPromptIsLoadedFromL1ByTheNextRequestWithTheSamePrefix() {
    Worker w = worker(offload("kv_both", "{\"l1_capacity\":\"1M\"}"));
    int[] tokens = prompt(21, 1); // 5 full blocks
    Request first = request(tokens, null, null);
    Finish finish = computeAndFinish(w, first, range(0, 6));
    assertThat(finish.delayFree()).isTrue();
    assertThat(finish.kvTransferParams()).isNull();

    Request again = request(tokens, null, null);
    Match m = matchWhenKnown(w, again, 0);
    assertThat(m).isEqualTo(new Match(5 * BLOCK_SIZE, true));
    assertThat(load(w, again, range(10, 6), m.tokens())).isTrue();
    assertLoaded(w, again, range(10, 6), 5);

    // Locally cached prefix: only the rest is offered.
    assertThat(matchWhenKnown(w, request(tokens, null, null), 2 * BLOCK_SIZE).tokens())
        .isEqualTo(3 * BLOCK_SIZE);
    // The last prompt token is never offered: a 20-token prompt loads 4 of its 5 blocks.
    assertThat(matchWhenKnown(w, request(prompt(20, 1), null, null), 0).tokens())
        .isEqualTo(4 * BLOCK_SIZE);
    // A known block is saved once.
    assertThat(w.connector().requestFinished(request(tokens, null, null), range(0, 6), true))
        .extracting(Finish::delayFree)
        .isEqualTo(false);
  }

  @Test
  void anotherSaltOrAbortedRequestsShareNothing() {
    Worker w = worker(offload("kv_both", "{}"));
    int[] tokens = prompt(17, 2);
    computeAndFinish(w, request(tokens, "tenant-a", null), range(0, 5));
    assertThat(matchWhenKnown(w, request(tokens, "tenant-b", null), 0)).isEqualTo(Match.NONE);
    assertThat(matchWhenKnown(w, request(tokens, null, null), 0)).isEqualTo(Match.NONE);
    assertThat(matchWhenKnown(w, request(tokens, "tenant-a", null), 0).tokens()).isEqualTo(16);

    int[] other = prompt(17, 3);
    assertThat(w.connector().requestFinished(request(other, null, null), range(0, 5), false))
        .isEqualTo(new Finish(false, null));
    assertThat(matchWhenKnown(w, request(other, null, null), 0)).isEqualTo(Match.NONE);
  }

  @Test
  void aFullSaveQueueDropsAndCounts() {
    Worker w = worker(offload("kv_both", "{\"save_queue_blocks\":2}"));
    Finish f = w.connector().requestFinished(request(prompt(17, 4), null, null), range(0, 5), true);
    assertThat(f.delayFree()).isFalse();
    assertThat(((OffloadConnector) w.connector()).stats().droppedBlocks()).isEqualTo(4);
  }

  @Test
  void aSecondWorkerLoadsTheFirstWorkersPromptThroughRedis() {
    try (RedisServerProcess redis = RedisServers.startOrSkip()) {
      String extra = "{\"l1_capacity\":\"1M\",\"l2_url\":\"" + redis.url() + "\"}";
      Worker a = worker(offload("kv_both", extra));
      Worker b = worker(offload("kv_both", extra));
      await().until(() -> ((OffloadConnector) b.connector()).stats().l2().connected());
      int[] tokens = prompt(33, 5); // 8 full blocks
      computeAndFinish(a, request(tokens, null, null), range(0, 9));
      OffloadConnector aStats = (OffloadConnector) a.connector();
      await().until(() -> aStats.stats().l2().writes() == 8); // reaches L2 (idle worker: < 1 s)

      Request onB = request(tokens, null, null);
      assertThat(b.connector().matchedTokens(onB, 0)).isEqualTo(Match.ASK_LATER);
      Match m = matchWhenKnown(b, onB, 0);
      assertThat(m.tokens()).isEqualTo(8 * BLOCK_SIZE);
      assertThat(load(b, onB, range(20, 9), m.tokens())).isTrue();
      assertLoaded(b, onB, range(20, 9), 8);

      // Another tenant finds nothing in L2 either.
      assertThat(matchWhenKnown(b, request(tokens, "other", null), 0)).isEqualTo(Match.NONE);
    }
  }

  @Test
  void pdThroughTheCacheTheDecodeWaitsForThePrefillsBlocks() {
    try (RedisServerProcess redis = RedisServers.startOrSkip()) {
      String extra = "{\"l2_url\":\"" + redis.url() + "\",\"l2_wait_ms\":5000}";
      Worker prefill = worker(offload("kv_producer", extra));
      Worker decode = worker(offload("kv_consumer", extra));
      await().until(() -> ((OffloadConnector) prefill.connector()).stats().l2().connected());
      int[] tokens = prompt(25, 6); // 6 full blocks
      JsonNode ask = Json.parse("{\"do_remote_decode\":true}");
      Request p = request(tokens, null, ask);
      // The decode asks before the prefill has finished: it waits instead of computing.
      JsonNode answer =
          Json.parse(
              "{\"do_remote_decode\":false,\"do_remote_prefill\":true,\"kv_cache_blocks\":6}");
      Request d = request(tokens, null, answer);
      assertThat(decode.connector().matchedTokens(d, 0)).isEqualTo(Match.ASK_LATER);
      Finish f = computeAndFinish(prefill, p, range(0, 7));
      assertThat(f.kvTransferParams().get("kv_cache_blocks").asInt()).isEqualTo(6);
      assertThat(f.kvTransferParams().get("do_remote_prefill").asBoolean()).isTrue();
      Match m = matchWhenKnown(decode, d, 0);
      assertThat(m.tokens()).isEqualTo(6 * BLOCK_SIZE);
      assertThat(load(decode, d, range(30, 7), m.tokens())).isTrue();
      assertLoaded(decode, d, range(30, 7), 6);
    }
  }

  @Test
  void redisDownMeansMissesNeverErrorsOrLongWaits() {
    try (RedisServerProcess redis = RedisServers.startOrSkip()) {
      String extra = "{\"l2_url\":\"" + redis.url() + "\",\"l2_timeout_ms\":300}";
      Worker a = worker(offload("kv_both", extra));
      OffloadConnector stats = (OffloadConnector) a.connector();
      await().until(() -> stats.stats().l2().connected());
      redis.stop();
      long start = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        Request r = request(prompt(17, 100 + i), null, null);
        assertThat(matchWhenKnown(a, r, 0)).isEqualTo(Match.NONE);
        a.connector().afterAllocate(r, range(0, 5), 0);
        computeAndFinish(a, r, range(0, 5)); // saved to L1, L2 write fails and is counted
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
      await().until(() -> stats.stats().l2().errors() > 0);
      // L1 still serves.
      assertThat(matchWhenKnown(a, request(prompt(17, 100), null, null), 0).tokens()).isEqualTo(16);
    }
  }

  @Test
  void badOptionsAreClearErrors() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> KvTransferConfig.parse(offload("kv_both", "{\"l1_eviction\":\"arc\"}")))
        .hasMessageContaining("l1_eviction");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> KvTransferConfig.parse(offload("kv_both", "{\"l1_capacity\":\"lots\"}")))
        .hasMessageContaining("l1_capacity");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> KvTransferConfig.parse(offload("kv_both", "{\"l2_url\":\"http://x\"}")))
        .hasMessageContaining("l2_url");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> KvTransferConfig.parse(offload("kv_both", "{\"l2_urll\":\"redis://x\"}")))
        .hasMessageContaining("l2_urll");
    assertThat(OffloadOptions.parseSize(Json.parse("\"2G\""))).isEqualTo(2L << 30);
    assertThat(OffloadOptions.parseSize(Json.parse("\"256MiB\""))).isEqualTo(256L << 20);
    assertThat(OffloadOptions.parseSize(Json.parse("4096"))).isEqualTo(4096);
  }
}
