package dev.baton.kv.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.testkit.RedisServerProcess;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The L2 tier against a real redis-server on a free loopback port. */
class L2StoreTest {

  private static final long BLOCK = 4096;
  private static final String LAYOUT = "test-model/layers=2/block=16/float32";

  private RedisServerProcess redis;
  private final Arena arena = Arena.ofShared();
  private final BlockCodec codec = new BlockCodec(LAYOUT, BLOCK);

  @BeforeEach
  void startRedis() {
    redis = RedisServers.startOrSkip();
  }

  @AfterEach
  void stopRedis() {
    if (redis != null) {
      redis.close();
    }
    arena.close();
  }

  private L2Store store(String url) {
    return new L2Store(url, "baton:kv:", Duration.ofMillis(500), 0, codec.valueBytes());
  }

  /** The stored value of {@code key}, null when absent or unreachable. */
  private static byte[] read(L2Store l2, BlockKey key) {
    try (L2Store.Fetch f = l2.fetch(List.of(key))) {
      MemorySegment v = f.await()[0];
      return v == null ? null : v.toArray(ValueLayout.JAVA_BYTE);
    }
  }

  private boolean decodes(BlockKey key, byte[] value) {
    return codec.payloadOffset(key.bytes(), MemorySegment.ofArray(value)) >= 0;
  }

  private MemorySegment block(int seed) {
    return L1StoreContractTest.blockOf(arena, BLOCK, seed);
  }

  @Test
  void storedBlocksComeBackAndAbsentOnesAreMisses() {
    try (L2Store l2 = store(redis.url())) {
      await().atMost(Duration.ofSeconds(10)).until(l2::connected);
      List<BlockKey> keys = new ArrayList<>();
      List<byte[]> values = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        keys.add(L1StoreContractTest.key(i));
        values.add(codec.encode(keys.get(i).bytes(), block(i)));
      }
      assertThat(l2.putAll(keys, values)).isTrue();
      List<BlockKey> asked = new ArrayList<>(keys);
      asked.add(L1StoreContractTest.key(1000));
      try (L2Store.Fetch f = l2.fetch(asked)) {
        MemorySegment[] got = f.await();
        for (int i = 0; i < 20; i++) {
          long at = codec.payloadOffset(keys.get(i).bytes(), got[i]);
          assertThat(at).isPositive();
          assertThat(got[i].isNative()).isTrue(); // decoded off-heap, not into a heap array
          assertThat(got[i].asSlice(at, BLOCK).mismatch(block(i))).isEqualTo(-1);
        }
        assertThat(got[20]).isNull();
      }
      L2Store.Stats s = l2.stats();
      assertThat(s.hits()).isEqualTo(20);
      assertThat(s.misses()).isEqualTo(1);
      assertThat(s.writes()).isEqualTo(20);
      assertThat(s.errors()).isZero();
    }
  }

  @Test
  void prefixLoaderStopsAtTheFirstMissOrBadValueAndGivesBuffersBack() {
    try (L2Store l2 = store(redis.url());
        RedisClient raw = RedisClient.create(redis.url());
        StatefulRedisConnection<byte[], byte[]> c =
            raw.connect(io.lettuce.core.codec.ByteArrayCodec.INSTANCE)) {
      await().atMost(Duration.ofSeconds(10)).until(l2::connected);
      List<BlockKey> keys = new ArrayList<>();
      List<byte[]> values = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        keys.add(L1StoreContractTest.key(100 + i));
        values.add(codec.encode(keys.get(i).bytes(), block(i)));
      }
      // Block 25 absent: 25 load, whichever way the MGETs are issued.
      assertThat(l2.putAll(keys.subList(0, 25), values.subList(0, 25))).isTrue();
      assertThat(l2.putAll(keys.subList(26, 40), values.subList(26, 40))).isTrue();
      for (boolean readAhead : new boolean[] {false, true}) {
        try (L1Store l1 = new L1Store(64 * BLOCK, BLOCK, "lru")) {
          assertThat(L2PrefixLoader.load(l2, codec, l1, keys, 16, readAhead)).isEqualTo(25);
          assertThat(l1.cachedPrefix(keys)).isEqualTo(25);
          MemorySegment out = arena.allocate(BLOCK);
          for (int i = 0; i < 25; i++) {
            assertThat(l1.copyTo(keys.get(i), out)).isTrue();
            assertThat(out.mismatch(block(i))).isEqualTo(-1);
          }
        }
      }
      // A corrupt value at 10 stops the load there: no wrong KV, nothing after it.
      byte[] corrupt = values.get(10).clone();
      corrupt[corrupt.length - 1] ^= 1;
      c.sync().set(("baton:kv:" + keys.get(10)).getBytes(StandardCharsets.US_ASCII), corrupt);
      try (L1Store l1 = new L1Store(64 * BLOCK, BLOCK, "lru")) {
        assertThat(L2PrefixLoader.load(l2, codec, l1, keys, 16, true)).isEqualTo(10);
        assertThat(l1.stats().entries()).isEqualTo(10);
      }
      // Every fetch, the abandoned read-ahead included, gave its buffers back to the pool.
      await().atMost(Duration.ofSeconds(5)).until(() -> l2.idleReadBuffers() >= 16);
    }
  }

  @Test
  void corruptTruncatedForeignAndMisplacedValuesDecodeAsMisses() {
    try (L2Store l2 = store(redis.url());
        RedisClient raw = RedisClient.create(redis.url());
        StatefulRedisConnection<byte[], byte[]> c =
            raw.connect(io.lettuce.core.codec.ByteArrayCodec.INSTANCE)) {
      await().atMost(Duration.ofSeconds(10)).until(l2::connected);
      BlockKey key = L1StoreContractTest.key(1);
      byte[] good = codec.encode(key.bytes(), block(1));
      byte[] flipped = good.clone();
      flipped[flipped.length - 7] ^= 1;
      byte[] truncated = java.util.Arrays.copyOf(good, good.length - 100);
      byte[] foreign =
          new BlockCodec("other-model/layers=2/block=16/float32", BLOCK)
              .encode(key.bytes(), block(1));
      byte[] otherBlock = codec.encode(L1StoreContractTest.key(2).bytes(), block(1));
      byte[] redisKey = ("baton:kv:" + key).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      for (byte[] bad : List.of(flipped, truncated, foreign, otherBlock, new byte[] {1, 2, 3})) {
        c.sync().set(redisKey, bad);
        byte[] got = read(l2, key);
        assertThat(got).isNotNull(); // the server has a value ...
        assertThat(decodes(key, got)).isFalse(); // ... that is no block
      }
      // Longer than any block value: not even read into a buffer, a miss all the same.
      byte[] tooLong = java.util.Arrays.copyOf(good, good.length + 1);
      c.sync().set(redisKey, tooLong);
      assertThat(read(l2, key)).isEmpty();
      c.sync().set(redisKey, good);
      assertThat(decodes(key, read(l2, key))).isTrue();
    }
  }

  @Test
  void ttlMakesValuesExpire() {
    try (L2Store l2 =
        new L2Store(redis.url(), "baton:kv:", Duration.ofMillis(500), 1, codec.valueBytes())) {
      await().atMost(Duration.ofSeconds(10)).until(l2::connected);
      BlockKey key = L1StoreContractTest.key(5);
      assertThat(l2.putAll(List.of(key), List.of(codec.encode(key.bytes(), block(5))))).isTrue();
      assertThat(read(l2, key)).isNotNull();
      await().atMost(Duration.ofSeconds(5)).until(() -> read(l2, key) == null);
    }
  }

  @Test
  void redisKilledMidRunFailsFastCountsErrorsAndReconnects() {
    try (L2Store l2 = store(redis.url())) {
      await().atMost(Duration.ofSeconds(10)).until(l2::connected);
      BlockKey key = L1StoreContractTest.key(7);
      byte[] value = codec.encode(key.bytes(), block(7));
      assertThat(l2.putAll(List.of(key), List.of(value))).isTrue();

      redis.stop();
      long errorsBefore = l2.stats().errors();
      long start = System.nanoTime();
      for (int i = 0; i < 20; i++) {
        assertThat(read(l2, key)).isNull();
        assertThat(l2.putAll(List.of(key), List.of(value))).isFalse();
      }
      // Each call is bounded by the 500 ms timeout; disconnected, they are rejected at once.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(l2.stats().errors()).isGreaterThanOrEqualTo(errorsBefore + 40);

      redis.restart(); // empty: no persistence
      await().atMost(Duration.ofSeconds(20)).until(() -> l2.putAll(List.of(key), List.of(value)));
      assertThat(read(l2, key)).isEqualTo(value);
    }
  }

  @Test
  void redisDownAtStartIsSurvivedAndJoinedLater() {
    int port = redis.port();
    redis.stop();
    try (L2Store l2 = store("redis://127.0.0.1:" + port + "/0")) {
      BlockKey key = L1StoreContractTest.key(9);
      assertThat(read(l2, key)).isNull();
      assertThat(l2.connected()).isFalse();
      redis.restart();
      await().atMost(Duration.ofSeconds(20)).until(l2::connected);
      byte[] value = codec.encode(key.bytes(), block(9));
      assertThat(l2.putAll(List.of(key), List.of(value))).isTrue();
      assertThat(read(l2, key)).isEqualTo(value);
    }
  }

  @Test
  void aBadUrlIsAClearError() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> store("http://nope"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("l2_url");
  }
}
