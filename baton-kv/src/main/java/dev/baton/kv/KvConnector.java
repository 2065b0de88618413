package dev.baton.kv;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Set;

/**
 * The hook through which KV moves into and out of one engine, modelled on vLLM's v1 KV connector.
 * One connector object serves one worker; the engine's single loop thread calls every method, so
 * implementations need no locking against the engine (their own background threads are theirs).
 *
 * <p><b>Scheduler side</b> (called while the engine decides a step):
 *
 * <ol>
 *   <li>{@link #matchedTokens} for a waiting request: how many prompt tokens beyond the locally
 *       cached ones can be loaded from outside, and whether the load is asynchronous.
 *   <li>{@link #afterAllocate} once the engine has allocated blocks for the request (local hits +
 *       external tokens + new tokens). The connector remembers which blocks to fill.
 *   <li>{@link #requestFinished} when a request ends: the connector may ask the engine to keep the
 *       request's blocks ({@code delayFree}) until {@link #pollFinished} reports it in {@code
 *       doneSending}, and returns the {@code kv_transfer_params} for the response.
 * </ol>
 *
 * <p><b>Worker side</b> (called around each forward pass): {@link #beforeForward} starts (or, for a
 * synchronous connector, performs) the loads planned in {@link #afterAllocate}; {@link
 * #afterForward} may save the KV just written; {@link #pollFinished} reports asynchronous loads and
 * sends that completed since the last call.
 *
 * <p><b>Block ownership.</b> The engine owns every block. A request waiting for an asynchronous
 * load ({@code WAITING_FOR_REMOTE_KVS}) holds its blocks until the load is reported done or failed;
 * a request finished with {@code delayFree} holds them until reported in {@code doneSending}.
 * Expected failures (not found, timeout, peer gone) are return values: a failed load makes the
 * engine recompute those tokens.
 */
public interface KvConnector extends AutoCloseable {

  /** A connector that moves nothing: every request is computed locally. */
  KvConnector NONE = new KvConnector() {};

  /** What the engine tells a connector about one request. */
  record Request(
      String requestId,
      int[] promptTokens,
      List<byte[]> blockHashes,
      int blockSize,
      JsonNode kvTransferParams) {}

  /**
   * Answer of {@link #matchedTokens}: {@code tokens} more prompt tokens (after the locally cached
   * ones) can be loaded from outside; {@code async} true means the request must wait for them in
   * {@code WAITING_FOR_REMOTE_KVS}. {@code tokens < 0} means "not known yet, ask again next step".
   */
  record Match(int tokens, boolean async) {
    public static final Match NONE = new Match(0, false);
    public static final Match ASK_LATER = new Match(-1, false);
  }

  /**
   * Answer of {@link #requestFinished}: keep the blocks until {@code doneSending} reports the
   * request ({@code delayFree}), and the {@code kv_transfer_params} to return to the client (null
   * for none).
   */
  record Finish(boolean delayFree, JsonNode kvTransferParams) {}

  /** Requests whose asynchronous transfers ended since the last poll. */
  record Finished(Set<String> doneSending, Set<String> doneRecving, Set<String> failedRecving) {
    public static final Finished NOTHING = new Finished(Set.of(), Set.of(), Set.of());
  }

  /** One request's part of a forward step, as the worker side sees it. */
  record StepSeq(String requestId, int[] blockIds, int startPos, int numTokens) {}

  /** Called once, before any request, with the engine's KV memory. */
  default void registerKvCache(KvCacheView cache) {}

  /**
   * Scheduler side: extra prompt tokens loadable from outside, beyond {@code numComputedTokens}
   * already cached locally. Must have no side effects (it may be asked again).
   */
  default Match matchedTokens(Request request, int numComputedTokens) {
    return Match.NONE;
  }

  /**
   * Scheduler side: blocks were allocated for the request; {@code numExternalTokens} of them (after
   * the locally cached prefix) are to be filled by this connector.
   */
  default void afterAllocate(Request request, int[] blockIds, int numExternalTokens) {}

  /**
   * Scheduler side: the request ended (any reason). The default keeps nothing and echoes the
   * request's {@code kv_transfer_params}, so they are carried through the engine unchanged.
   */
  default Finish requestFinished(Request request, int[] blockIds) {
    return new Finish(false, request.kvTransferParams());
  }

  /** Worker side: start (or do) the loads planned for this step, before the forward pass. */
  default void beforeForward(List<StepSeq> step) {}

  /** Worker side: the forward pass wrote KV for {@code step}; save what should be saved. */
  default void afterForward(List<StepSeq> step) {}

  /**
   * Scheduler side, as {@link #requestFinished(Request, int[])} but told whether the request ran to
   * a normal end ({@code completed}: stop or length) or was aborted / failed. A producer keeps KV
   * only for completed requests. The engine calls this one.
   */
  default Finish requestFinished(Request request, int[] blockIds, boolean completed) {
    return requestFinished(request, blockIds);
  }

  /**
   * What the engine does with a request in {@link Finished#failedRecving()}: recompute the tokens
   * the connector failed to load, or end the request with an error a gateway can retry.
   */
  default LoadFailurePolicy loadFailurePolicy() {
    return LoadFailurePolicy.RECOMPUTE;
  }

  /** Why a load failed, for {@link #loadFailures()}. */
  record LoadFailure(String requestId, int[] blockIds, TransferStatus status, String message) {}

  /**
   * Details of the loads reported in {@link Finished#failedRecving()} since the last call (drains):
   * which blocks hold no valid KV and why. For error messages and metrics.
   */
  default List<LoadFailure> loadFailures() {
    return List.of();
  }

  /**
   * Worker side, for layer-wise connectors: blocks until layer {@code layer}'s KV of this step's
   * loads is in place. Runners that compute layer by layer call it before each layer; connectors
   * that load whole blocks before a request is scheduled (P2P) do nothing.
   */
  default void waitForLayerLoad(int layer) {}

  /**
   * Worker side, for layer-wise connectors: layer {@code layer}'s KV of this step is written and
   * may be saved (a shared-cache connector starts copying it out while the next layer computes).
   */
  default void saveKvLayer(int layer) {}

  /** Worker side: blocks until this step's saves no longer read the KV memory. */
  default void waitForSave() {}

  /**
   * Transfer counters since start, for metrics: bytes loaded from outside, loads that succeeded or
   * failed, seconds spent loading (summed over loads), leases held for peers now.
   */
  record TransferStats(
      long bytesLoaded, long loadsOk, long loadsFailed, double loadSeconds, int liveLeases) {
    public static final TransferStats NONE = new TransferStats(0, 0, 0, 0, 0);
  }

  /** This connector's transfer counters ({@link TransferStats#NONE} when it moves nothing). */
  default TransferStats transferStats() {
    return TransferStats.NONE;
  }

  /** Counters of the KV cache this connector keeps, if it keeps one (metrics). */
  default java.util.Optional<KvCacheStats> cacheStats() {
    return java.util.Optional.empty();
  }

  /**
   * Of the blocks this connector loaded for {@code requestId}, those it wrote straight into the
   * runner's device memory ({@link KvCacheView#device()}); the engine must not copy the host view
   * over them. Forgets them (called once per load, after it is reported done or failed).
   */
  default int[] takeDeviceLoadedBlocks(String requestId) {
    return new int[0];
  }

  /** Asynchronous loads and sends that ended since the last call. */
  default Finished pollFinished() {
    return Finished.NOTHING;
  }

  @Override
  default void close() {}
}
