package dev.baton.kv.p2p;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.KvTransferParams;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.KvConnector;
import dev.baton.kv.KvConnectors;
import dev.baton.kv.KvTransferConfig;
import dev.baton.kv.LoadFailurePolicy;
import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.kv.TransferStatus;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A producer and a consumer connector in one JVM, driven the way the engine's scheduler drives
 * them: prefill finishes and leases, decode matches, allocates, loads, and the producer hears the
 * release.
 */
class P2pConnectorTest {

  static final int BS = 16;
  static final long BLOCK_BYTES = 4096;
  static final String SECRET = "p2p-connector-test-secret";
  static final String LAYOUT = "tiny-test/bs=16";

  OffHeapBlockMemory prefillMemory = OffHeapBlockMemory.allocate(64, BS, BLOCK_BYTES, LAYOUT);
  OffHeapBlockMemory decodeMemory = OffHeapBlockMemory.allocate(64, BS, BLOCK_BYTES, LAYOUT);
  P2pConnector prefill = connector("kv_producer", prefillMemory, "{}");
  P2pConnector decode = connector("kv_consumer", decodeMemory, "{}");
  final Set<String> sent = new HashSet<>();
  final Set<String> received = new HashSet<>();
  final Set<String> failed = new HashSet<>();

  @AfterEach
  void close() {
    prefill.close();
    decode.close();
    prefillMemory.close();
    decodeMemory.close();
  }

  static P2pConnector connector(String role, KvCacheView memory, String extra) {
    String options =
        "{\"transport\":\"tcp\",\"timeout_ms\":2000,\"secret\":\""
            + SECRET
            + "\""
            + extraFields(extra)
            + "}";
    KvConnector connector =
        KvConnectors.create(
            KvTransferConfig.parse(
                "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\""
                    + role
                    + "\",\"kv_connector_extra_config\":"
                    + options
                    + "}"));
    connector.registerKvCache(memory);
    return (P2pConnector) connector;
  }

  private static String extraFields(String json) {
    String inner = json.strip();
    inner = inner.substring(1, inner.length() - 1).strip();
    return inner.isEmpty() ? "" : "," + inner;
  }

  static KvConnector.Request request(String id, int promptLength, JsonNode params) {
    int[] tokens = new int[promptLength];
    for (int i = 0; i < promptLength; i++) {
      tokens[i] = 100 + i;
    }
    return new KvConnector.Request(id, tokens, List.of(), BS, params);
  }

  /** Prefill side: the request ran with do_remote_decode and finished; returns its answer. */
  KvTransferParams prefillAndFinish(String id, int promptLength, int[] blocks) {
    KvConnector.Request r = request(id, promptLength, KvTransferParams.prefillRequest().toJson());
    assertThat(prefill.matchedTokens(r, 0)).isEqualTo(KvConnector.Match.NONE);
    KvConnector.Finish decision = prefill.requestFinished(r, blocks, true);
    assertThat(decision.delayFree()).isTrue();
    return KvTransferParams.fromJson(decision.kvTransferParams());
  }

  void poll() {
    KvConnector.Finished d = decode.pollFinished();
    received.addAll(d.doneRecving());
    failed.addAll(d.failedRecving());
    sent.addAll(prefill.pollFinished().doneSending());
  }

  @Test
  void decodePullsThePromptBlocksExceptWhatItComputesItself() {
    TransferContract.fillRandom(prefillMemory, 7);
    KvTransferParams answer = prefillAndFinish("p-1", 37, new int[] {5, 9, 2});
    assertThat(answer.doRemotePrefill()).isTrue();
    assertThat(answer.remoteBlockIds()).containsExactly(5, 9, 2);
    assertThat(answer.remotePort()).isEqualTo(prefill.transferAddress().orElseThrow().getPort());
    assertThat(answer.remoteEngineId()).isEqualTo(prefill.engineId());
    assertThat(prefill.stats().liveLeases()).isEqualTo(1);

    KvConnector.Request r = request("d-1", 37, answer.toJson());
    assertThat(decode.matchedTokens(r, 0)).isEqualTo(new KvConnector.Match(36, true));
    decode.afterAllocate(r, new int[] {10, 11, 12}, 36);

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return received.contains("d-1");
            });
    assertThat(decode.loadFailures()).isEmpty();
    assertThat(decodeMemory.block(10).mismatch(prefillMemory.block(5))).isEqualTo(-1);
    assertThat(decodeMemory.block(11).mismatch(prefillMemory.block(9))).isEqualTo(-1);
    assertThat(decodeMemory.block(12).mismatch(prefillMemory.block(2))).isEqualTo(-1);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return sent.contains("p-1");
            });
    assertThat(prefill.stats().liveLeases()).isZero();
    assertThat(decode.stats().bytesLoaded()).isEqualTo(3 * BLOCK_BYTES);
    // Once loaded, the request is not offered again, and its blocks are the engine's to free.
    assertThat(decode.matchedTokens(r, 36)).isEqualTo(KvConnector.Match.NONE);
    assertThat(decode.requestFinished(r, new int[] {10, 11, 12}, true).delayFree()).isFalse();
  }

  @Test
  void decodeWithAPartialPrefixHitPullsOnlyTheMissingBlocks() {
    TransferContract.fillRandom(prefillMemory, 8);
    KvTransferParams answer = prefillAndFinish("p-2", 40, new int[] {1, 2, 3});
    KvConnector.Request r = request("d-2", 40, answer.toJson());
    assertThat(decode.matchedTokens(r, 16)).isEqualTo(new KvConnector.Match(23, true));
    decode.afterAllocate(r, new int[] {20, 21, 22}, 23);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return received.contains("d-2");
            });
    assertThat(TransferContract.isZero(decodeMemory.block(20))).isTrue(); // its own prefix cache
    assertThat(decodeMemory.block(21).mismatch(prefillMemory.block(2))).isEqualTo(-1);
    assertThat(decodeMemory.block(22).mismatch(prefillMemory.block(3))).isEqualTo(-1);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return sent.contains("p-2");
            });
  }

  @Test
  void nothingToPullStillReleasesTheLease() {
    KvTransferParams one = prefillAndFinish("p-3", 1, new int[] {4});
    KvConnector.Request shortRequest = request("d-3", 1, one.toJson());
    assertThat(decode.matchedTokens(shortRequest, 0)).isEqualTo(KvConnector.Match.NONE);
    decode.afterAllocate(shortRequest, new int[] {7}, 0);

    KvTransferParams cached = prefillAndFinish("p-4", 17, new int[] {5, 6});
    KvConnector.Request cachedRequest = request("d-4", 17, cached.toJson());
    assertThat(decode.matchedTokens(cachedRequest, 16)).isEqualTo(KvConnector.Match.NONE);
    decode.afterAllocate(cachedRequest, new int[] {8, 9}, 0);

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return sent.containsAll(List.of("p-3", "p-4"));
            });
    assertThat(received).isEmpty();
  }

  @Test
  void aDecodeRequestEndingBeforeItsLoadReleasesTheLeaseAtOnce() {
    // Aborted while queued (matched, never allocated) and refused at the door (never matched).
    KvTransferParams queued = prefillAndFinish("p-q", 40, new int[] {1, 2, 3});
    KvTransferParams refused = prefillAndFinish("p-r", 20, new int[] {4, 5});
    assertThat(prefill.stats().liveLeases()).isEqualTo(2);
    KvConnector.Request q = request("d-q", 40, queued.toJson());
    assertThat(decode.matchedTokens(q, 0)).isEqualTo(new KvConnector.Match(39, true));
    assertThat(decode.requestFinished(q, new int[0], false).delayFree()).isFalse();
    decode.requestFinished(request("d-r", 20, refused.toJson()), new int[0], false);
    await()
        .atMost(Duration.ofSeconds(1))
        .until(
            () -> {
              poll();
              return sent.containsAll(List.of("p-q", "p-r"));
            });
    assertThat(prefill.stats().liveLeases()).isZero();
    assertThat(received).isEmpty();
    assertThat(decode.stats().loadsFailed()).isZero();
  }

  @Test
  void goneProducerIsALoadFailureNotAnException() {
    KvTransferParams answer = prefillAndFinish("p-5", 33, new int[] {1, 2, 3});
    prefill.close();
    KvConnector.Request r = request("d-5", 33, answer.toJson());
    assertThat(decode.matchedTokens(r, 0).tokens()).isEqualTo(32);
    decode.afterAllocate(r, new int[] {30, 31, 32}, 32);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return failed.contains("d-5");
            });
    assertThat(received).doesNotContain("d-5");
    List<KvConnector.LoadFailure> failures = decode.loadFailures();
    assertThat(failures).hasSize(1);
    assertThat(failures.getFirst().status()).isEqualTo(TransferStatus.PEER_UNREACHABLE);
    assertThat(failures.getFirst().blockIds()).containsExactly(30, 31);
    assertThat(decode.stats().loadsFailed()).isEqualTo(1);
    assertThat(decode.loadFailurePolicy()).isEqualTo(LoadFailurePolicy.FAIL);
  }

  @Test
  void paramsWithoutALeaseTokenFailTheLoadWithBadParams() {
    KvTransferParams answer = prefillAndFinish("p-6", 20, new int[] {1, 2});
    KvTransferParams forged =
        new KvTransferParams(
            false,
            true,
            answer.remoteEngineId(),
            answer.remoteRequestId(),
            answer.remoteBlockIds(),
            answer.remoteHost(),
            answer.remotePort(),
            1,
            null);
    KvConnector.Request r = request("d-6", 20, forged.toJson());
    decode.matchedTokens(r, 0);
    decode.afterAllocate(r, new int[] {1, 2}, 19);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return failed.contains("d-6");
            });
    assertThat(decode.loadFailures().getFirst().status()).isEqualTo(TransferStatus.BAD_PARAMS);
  }

  @Test
  void aRemoteHostOutsideTheConfiguredPeersIsNeverDialed() throws Exception {
    // Something listens where a forged request points; the worker must not even connect.
    try (java.net.ServerSocket bait = new java.net.ServerSocket()) {
      bait.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      bait.setSoTimeout(300);
      int prefillPort = prefill.transferAddress().orElseThrow().getPort();
      P2pConnector strict =
          connector("kv_consumer", decodeMemory, "{\"peers\":[\"127.0.0.1:" + prefillPort + "\"]}");
      try {
        KvTransferParams answer = prefillAndFinish("p-8", 20, new int[] {1, 2});
        KvTransferParams forged =
            new KvTransferParams(
                false,
                true,
                answer.remoteEngineId(),
                answer.remoteRequestId(),
                answer.remoteBlockIds(),
                "127.0.0.1",
                bait.getLocalPort(),
                1,
                answer.remoteLeaseToken());
        KvConnector.Request r = request("d-8", 20, forged.toJson());
        strict.matchedTokens(r, 0);
        strict.afterAllocate(r, new int[] {1, 2}, 19);
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> strict.pollFinished().failedRecving().contains("d-8"));
        KvConnector.LoadFailure failure = strict.loadFailures().getFirst();
        assertThat(failure.status()).isEqualTo(TransferStatus.BAD_PARAMS);
        assertThat(failure.message()).contains("is not a configured KV peer");
        org.assertj.core.api.Assertions.assertThatThrownBy(bait::accept)
            .isInstanceOf(java.net.SocketTimeoutException.class);
      } finally {
        strict.close();
      }
    }
  }

  @Test
  void withoutConfiguredPeersOnlyLoopbackIsAllowed() {
    PeerAllowlist none = PeerAllowlist.of(List.of());
    assertThat(none.allows("127.0.0.1", 5600)).isTrue();
    assertThat(none.allows("localhost", 5600)).isTrue();
    assertThat(none.allows("::1", 5600)).isTrue();
    assertThat(none.allows("10.0.0.5", 5600)).isFalse();
    assertThat(none.allows("evil.example", 5600)).isFalse();
    PeerAllowlist some = PeerAllowlist.of(List.of("10.0.0.5", "10.0.0.6:7000", "[fd00::1]:7001"));
    assertThat(some.allows("10.0.0.5", 1)).isTrue();
    assertThat(some.allows("10.0.0.6", 7000)).isTrue();
    assertThat(some.allows("10.0.0.6", 7002)).isFalse();
    assertThat(some.allows("fd00::1", 7001)).isTrue();
    assertThat(some.allows("127.0.0.1", 1))
        .as("loopback is not implied once peers are set")
        .isFalse();
    assertThat(PeerAllowlist.of(List.of("*")).allows("203.0.113.9", 80)).isTrue();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PeerAllowlist.of(List.of("h:99999")))
        .hasMessageContaining("no valid port");
  }

  @Test
  void malformedParamsFailTheLoadInsteadOfThrowing() {
    JsonNode bad = dev.baton.core.Json.parse("{\"do_remote_prefill\":true,\"remote_port\":\"x\"}");
    KvConnector.Request r = request("d-7", 20, bad);
    assertThat(decode.matchedTokens(r, 0).tokens()).isEqualTo(19);
    decode.afterAllocate(r, new int[] {1, 2}, 19);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              poll();
              return failed.contains("d-7");
            });
    assertThat(decode.loadFailures().getFirst().message()).contains("remote_port");
  }

  @Test
  void abortedOrPlainRequestsAreNotLeased() {
    KvConnector.Request aborted = request("p-7", 20, KvTransferParams.prefillRequest().toJson());
    assertThat(prefill.requestFinished(aborted, new int[] {1, 2}, false).delayFree()).isFalse();
    KvConnector.Request plain = request("p-8", 20, null);
    assertThat(prefill.requestFinished(plain, new int[] {1, 2}).delayFree()).isFalse();
    assertThat(prefill.stats().liveLeases()).isZero();
  }

  @Test
  void expiredLeaseIsReportedAsDoneSending() {
    try (OffHeapBlockMemory memory = OffHeapBlockMemory.allocate(8, BS, BLOCK_BYTES, LAYOUT);
        P2pConnector shortLease = connector("kv_producer", memory, "{\"lease_seconds\":0.2}")) {
      KvConnector.Request r = request("p-9", 5, KvTransferParams.prefillRequest().toJson());
      assertThat(shortLease.requestFinished(r, new int[] {3}, true).delayFree()).isTrue();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> shortLease.pollFinished().doneSending().contains("p-9"));
      assertThat(shortLease.stats().liveLeases()).isZero();
    }
  }
}
