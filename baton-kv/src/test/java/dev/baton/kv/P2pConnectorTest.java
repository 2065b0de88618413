package dev.baton.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A producer and a consumer connector in one JVM, driven the way a scheduler drives them: prefill
 * finishes and leases, decode matches, allocates, loads, and the producer hears the release.
 */
class P2pConnectorTest {

  static final int BS = 16;
  static final long BLOCK_BYTES = 4096;
  static final String SECRET = "p2p-connector-test-secret";

  OffHeapBlockMemory prefillMemory = OffHeapBlockMemory.allocate(64, BLOCK_BYTES, "bs=16");
  OffHeapBlockMemory decodeMemory = OffHeapBlockMemory.allocate(64, BLOCK_BYTES, "bs=16");
  KvConnector prefill = connector("kv_producer", prefillMemory, "tcp", "fail");
  KvConnector decode = connector("kv_consumer", decodeMemory, "tcp", "fail");
  final Set<String> sent = new HashSet<>();

  @AfterEach
  void close() {
    prefill.close();
    decode.close();
    prefillMemory.close();
    decodeMemory.close();
  }

  static KvConnector connector(String role, KvBlockMemory memory, String transport, String policy) {
    KvTransferConfig config =
        KvTransferConfig.parse(
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\""
                + role
                + "\",\"kv_load_failure_policy\":\""
                + policy
                + "\",\"kv_connector_extra_config\":{\"transport\":\""
                + transport
                + "\",\"secret\":\""
                + SECRET
                + "\",\"timeout_ms\":2000}}");
    return KvConnectors.create(config, new KvConnectorContext(memory, BS, "tiny-test"));
  }

  static int[] prompt(int length) {
    int[] tokens = new int[length];
    for (int i = 0; i < length; i++) {
      tokens[i] = 100 + i;
    }
    return tokens;
  }

  /** Prefill side: the request ran with do_remote_decode and finished; returns its answer. */
  KvTransferParams prefillAndFinish(String id, int promptLength, int[] blocks) {
    KvRequest request = new KvRequest(id, prompt(promptLength), KvTransferParams.prefillRequest());
    assertThat(prefill.numNewMatchedTokens(request, 0)).isEqualTo(KvConnector.ExternalMatch.NONE);
    KvConnector.FinishDecision decision = prefill.requestFinished(request, blocks, true);
    assertThat(decision.delayFree()).isTrue();
    return decision.kvTransferParams();
  }

  @Test
  void decodePullsThePromptBlocksExceptWhatItComputesItself() {
    TransferContract.fillRandom(prefillMemory, 7);
    KvTransferParams answer = prefillAndFinish("p-1", 37, new int[] {5, 9, 2});
    assertThat(answer.doRemotePrefill()).isTrue();
    assertThat(answer.remoteBlockIds()).containsExactly(5, 9, 2);
    assertThat(answer.remotePort()).isEqualTo(prefill.transferAddress().orElseThrow().getPort());
    assertThat(prefill.stats().liveLeases()).isEqualTo(1);

    KvRequest request = new KvRequest("d-1", prompt(37), answer);
    KvConnector.ExternalMatch match = decode.numNewMatchedTokens(request, 0);
    assertThat(match).isEqualTo(new KvConnector.ExternalMatch(36, true));
    decode.updateStateAfterAlloc(request, new int[] {10, 11, 12}, 36);
    decode.startLoadKv();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> decode.finished().doneRecving().contains("d-1"));
    assertThat(decode.loadFailures()).isEmpty();
    assertThat(decodeMemory.block(10).mismatch(prefillMemory.block(5))).isEqualTo(-1);
    assertThat(decodeMemory.block(11).mismatch(prefillMemory.block(9))).isEqualTo(-1);
    assertThat(decodeMemory.block(12).mismatch(prefillMemory.block(2))).isEqualTo(-1);
    await().atMost(Duration.ofSeconds(10)).until(() -> drainSent().contains("p-1"));
    assertThat(prefill.stats().liveLeases()).isZero();
    assertThat(decode.stats().bytesLoaded()).isEqualTo(3 * BLOCK_BYTES);
    // Once loaded, the request is not offered again.
    assertThat(decode.numNewMatchedTokens(request, 36)).isEqualTo(KvConnector.ExternalMatch.NONE);
    assertThat(decode.requestFinished(request, new int[] {10, 11, 12}, true))
        .isEqualTo(KvConnector.FinishDecision.FREE_NOW);
  }

  @Test
  void decodeWithAPartialPrefixHitPullsOnlyTheMissingBlocks() {
    TransferContract.fillRandom(prefillMemory, 8);
    KvTransferParams answer = prefillAndFinish("p-2", 40, new int[] {1, 2, 3});
    KvRequest request = new KvRequest("d-2", prompt(40), answer);
    assertThat(decode.numNewMatchedTokens(request, 16))
        .isEqualTo(new KvConnector.ExternalMatch(23, true));
    decode.updateStateAfterAlloc(request, new int[] {20, 21, 22}, 23);
    decode.startLoadKv();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> decode.finished().doneRecving().contains("d-2"));
    assertThat(TransferContract.isZero(decodeMemory.block(20))).isTrue(); // its own prefix cache
    assertThat(decodeMemory.block(21).mismatch(prefillMemory.block(2))).isEqualTo(-1);
    assertThat(decodeMemory.block(22).mismatch(prefillMemory.block(3))).isEqualTo(-1);
    await().atMost(Duration.ofSeconds(10)).until(() -> drainSent().contains("p-2"));
  }

  @Test
  void nothingToPullStillReleasesTheLease() {
    KvTransferParams one = prefillAndFinish("p-3", 1, new int[] {4});
    KvRequest shortRequest = new KvRequest("d-3", prompt(1), one);
    assertThat(decode.numNewMatchedTokens(shortRequest, 0))
        .isEqualTo(KvConnector.ExternalMatch.NONE);
    decode.updateStateAfterAlloc(shortRequest, new int[] {7}, 0);

    KvTransferParams cached = prefillAndFinish("p-4", 17, new int[] {5, 6});
    KvRequest cachedRequest = new KvRequest("d-4", prompt(17), cached);
    assertThat(decode.numNewMatchedTokens(cachedRequest, 16))
        .isEqualTo(KvConnector.ExternalMatch.NONE);
    decode.updateStateAfterAlloc(cachedRequest, new int[] {8, 9}, 0);
    decode.startLoadKv();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> drainSent().containsAll(List.of("p-3", "p-4")));
    assertThat(decode.finished().doneRecving()).isEmpty();
  }

  @Test
  void goneProducerIsALoadFailureNotAnException() {
    KvTransferParams answer = prefillAndFinish("p-5", 33, new int[] {1, 2, 3});
    prefill.close();
    KvRequest request = new KvRequest("d-5", prompt(33), answer);
    assertThat(decode.numNewMatchedTokens(request, 0).tokens()).isEqualTo(32);
    decode.updateStateAfterAlloc(request, new int[] {30, 31, 32}, 32);
    decode.startLoadKv();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> decode.finished().doneRecving().contains("d-5"));
    List<KvConnector.LoadFailure> failures = decode.loadFailures();
    assertThat(failures).hasSize(1);
    assertThat(failures.getFirst().status()).isEqualTo(TransferStatus.PEER_UNREACHABLE);
    assertThat(failures.getFirst().blockIds()).containsExactly(30, 31);
    assertThat(decode.stats().loadsFailed()).isEqualTo(1);
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
    KvRequest request = new KvRequest("d-6", prompt(20), forged);
    decode.numNewMatchedTokens(request, 0);
    decode.updateStateAfterAlloc(request, new int[] {1, 2}, 19);
    decode.startLoadKv();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> decode.finished().doneRecving().contains("d-6"));
    assertThat(decode.loadFailures().getFirst().status()).isEqualTo(TransferStatus.BAD_PARAMS);
  }

  @Test
  void abortedOrPlainRequestsAreNotLeased() {
    KvRequest aborted = new KvRequest("p-7", prompt(20), KvTransferParams.prefillRequest());
    assertThat(prefill.requestFinished(aborted, new int[] {1, 2}, false))
        .isEqualTo(KvConnector.FinishDecision.FREE_NOW);
    KvRequest plain = new KvRequest("p-8", prompt(20), null);
    assertThat(prefill.requestFinished(plain, new int[] {1, 2}, true))
        .isEqualTo(KvConnector.FinishDecision.FREE_NOW);
    assertThat(prefill.stats().liveLeases()).isZero();
  }

  @Test
  void expiredLeaseIsReportedAsDoneSending() {
    try (OffHeapBlockMemory memory = OffHeapBlockMemory.allocate(8, BLOCK_BYTES, "bs=16");
        KvConnector shortLease =
            KvConnectors.create(
                KvTransferConfig.parse(
                    "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\","
                        + "\"kv_connector_extra_config\":{\"lease_seconds\":0.2,\"secret\":\""
                        + SECRET
                        + "\"}}"),
                new KvConnectorContext(memory, BS, "tiny-test"))) {
      KvRequest request = new KvRequest("p-9", prompt(5), KvTransferParams.prefillRequest());
      assertThat(shortLease.requestFinished(request, new int[] {3}, true).delayFree()).isTrue();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> shortLease.finished().doneSending().contains("p-9"));
      assertThat(shortLease.stats().liveLeases()).isZero();
    }
  }

  Set<String> drainSent() {
    sent.addAll(prefill.finished().doneSending());
    return sent;
  }
}
