package dev.baton.kv.p2p;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.KvTransferParams;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.KvConnector;
import dev.baton.kv.KvTransferConfig;
import dev.baton.kv.LoadFailurePolicy;
import dev.baton.kv.TransferEvents;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peer-to-peer KV transfer in vLLM's NixlConnector protocol. As a producer (prefill), a finished
 * {@code do_remote_decode} request keeps its prompt blocks under a lease and answers with where to
 * pull them ({@code remote_host}, {@code remote_port}, {@code remote_block_ids}, {@code
 * remote_lease_token}). As a consumer (decode), a {@code do_remote_prefill} request pulls the
 * prompt blocks it lacks in one message, in the background, then releases the lease.
 *
 * <p>The consumer never loads the prompt's last token: the engine computes it, which yields the
 * logits of the first generated token (the prefill worker's sampled token is not reused).
 */
public final class P2pConnector implements KvConnector {

  public static final String NAME = "P2pConnector";

  private static final System.Logger LOG = System.getLogger(P2pConnector.class.getName());

  private final KvTransferConfig config;
  private final P2pOptions options;
  private final String engineId;
  private final byte[] secret;
  private volatile KvCacheView cache;
  private LeaseTable leases;
  private BlockServer server;
  private BlockClient client;
  private ExecutorService loaders;
  private Semaphore pullPermits;

  private final TransferEvents events = new TransferEvents();

  /** numComputed at match time, per request between {@link #matchedTokens} and allocation. */
  private final Map<String, Integer> matchedFrom = new ConcurrentHashMap<>();

  /** Requests whose remote prefill was taken care of (load started, or nothing to load). */
  private final Set<String> consumed = ConcurrentHashMap.newKeySet();

  /** Loads that went device to device: their local blocks, until the engine takes them. */
  private final Map<String, int[]> deviceLoaded = new ConcurrentHashMap<>();

  private final AtomicLong loadsOk = new AtomicLong();
  private final AtomicLong loadsFailed = new AtomicLong();
  private final AtomicLong bytesLoaded = new AtomicLong();
  private final PeerAllowlist allowlist;
  private final AtomicLong loadNanos = new AtomicLong();

  /** Counters for metrics and the transfer benchmark. */
  public record Stats(
      int liveLeases, long loadsOk, long loadsFailed, long bytesLoaded, long loadNanos) {}

  /** Reads the options and the secret; the channel starts in {@link #registerKvCache}. */
  public P2pConnector(KvTransferConfig config) {
    this.config = config;
    this.options = config.p2pOptions();
    this.engineId = config.engineId() != null ? config.engineId() : "baton-" + UUID.randomUUID();
    this.secret = options.resolveSecret();
    this.allowlist = options.allowlist();
  }

  public String engineId() {
    return engineId;
  }

  @Override
  public synchronized void registerKvCache(KvCacheView view) {
    if (cache != null) {
      throw new IllegalStateException("the KV cache is already registered");
    }
    cache = view;
    if (config.role().canPrefill()) {
      leases = new LeaseTable(options.lease().toMillis(), (id, end) -> events.sent(id));
      try {
        server =
            new BlockServer(
                view,
                leases,
                secret,
                view.layout(),
                new BlockServer.Options(
                    options.bindHost(),
                    options.port(),
                    options.transport() != Transport.TCP,
                    options.handshakeTimeout(),
                    options.maxConnections(),
                    options.maxPendingHandshakes(),
                    engineId,
                    options.advertiseHost()));
      } catch (IOException e) {
        leases.close();
        throw new UncheckedIOException(
            "cannot start the KV block server on "
                + options.bindHost()
                + ":"
                + options.port()
                + ": "
                + e.getMessage(),
            e);
      }
    }
    if (config.role().canDecode()) {
      client =
          new BlockClient(
              view, secret, view.layout(), options.transport(), options.timeout(), engineId);
      loaders = Executors.newVirtualThreadPerTaskExecutor();
      pullPermits = new Semaphore(options.maxConcurrentPulls());
    }
  }

  // ---- scheduler side ----

  @Override
  public Match matchedTokens(Request request, int numComputedTokens) {
    if (client == null || consumed.contains(request.requestId())) {
      return Match.NONE;
    }
    KvTransferParams params = paramsOrNull(request);
    if (params == null || !params.doRemotePrefill()) {
      return Match.NONE;
    }
    matchedFrom.put(request.requestId(), numComputedTokens);
    // Never offer the last prompt token: computing it here gives the first token's logits.
    int loadable = request.promptTokens().length - 1 - numComputedTokens;
    return loadable > 0 ? new Match(loadable, true) : Match.NONE;
  }

  @Override
  public void afterAllocate(Request request, int[] blockIds, int numExternalTokens) {
    Integer from = matchedFrom.remove(request.requestId());
    if (client == null || from == null || !consumed.add(request.requestId())) {
      return;
    }
    KvTransferParams params;
    String problem;
    try {
      params = KvTransferParams.fromJson(request.kvTransferParams());
      problem = params.pullProblem();
      if (problem == null && !allowlist.allows(params.remoteHost(), params.remotePort())) {
        // Never dial an address only a request names: that would make this worker a port
        // scanner and let anyone who can send a request feed it foreign KV.
        problem =
            "remote_host "
                + params.remoteHost()
                + ":"
                + params.remotePort()
                + " is not a configured KV peer (peers: "
                + allowlist
                + ")";
      }
    } catch (IllegalArgumentException e) {
      params = null;
      problem = e.getMessage();
    }
    if (numExternalTokens <= 0) {
      // Everything is here already; the producer still waits to hear that we are done.
      if (problem == null) {
        KvTransferParams p = params;
        loaders.execute(() -> releaseOnly(request.requestId(), p));
      }
      return;
    }
    int blockSize = request.blockSize();
    int first = from / blockSize;
    int end = (from + numExternalTokens + blockSize - 1) / blockSize;
    if (problem == null && from % blockSize != 0) {
      problem = "locally computed prefix (" + from + " tokens) is not block aligned";
    }
    if (problem == null && end > blockIds.length) {
      problem = "the engine allocated " + blockIds.length + " blocks, the load needs " + end;
    }
    if (problem == null && end > params.remoteBlockIds().size()) {
      problem =
          "remote_block_ids has "
              + params.remoteBlockIds().size()
              + " blocks, the prompt needs "
              + end;
    }
    int[] local =
        problem == null
            ? Arrays.copyOfRange(blockIds, first, end)
            : Arrays.copyOfRange(blockIds, first, Math.min(end, blockIds.length));
    int[] remote =
        problem == null
            ? params.remoteBlockIds().subList(first, end).stream().mapToInt(i -> i).toArray()
            : new int[0];
    String id = request.requestId();
    KvTransferParams p = params;
    String why = problem;
    loaders.execute(() -> load(id, p, local, remote, why));
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds) {
    return requestFinished(request, blockIds, true);
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds, boolean completed) {
    // A request that ends while its load runs keeps its blocks in the engine until the load is
    // reported in doneRecving / failedRecving (the engine's rule), so nothing to do for it here.
    String id = request.requestId();
    matchedFrom.remove(id);
    boolean loadStarted = consumed.remove(id);
    KvTransferParams params = paramsOrNull(request);
    if (!loadStarted && client != null && params != null && params.doRemotePrefill()) {
      releaseUnpulled(id, params);
      return new Finish(false, null);
    }
    if (server == null || params == null || !params.doRemoteDecode() || !completed) {
      return new Finish(false, null);
    }
    int blockSize = request.blockSize();
    int promptBlocks = (request.promptTokens().length + blockSize - 1) / blockSize;
    if (blockIds.length < promptBlocks) {
      LOG.log(Level.WARNING, "request {0} has fewer blocks than its prompt; not leased", id);
      return new Finish(false, null);
    }
    String token;
    try {
      token = leases.grant(id, blockIds);
    } catch (IllegalStateException e) {
      LOG.log(Level.WARNING, "request id {0} already holds a lease; not leasing again", id);
      return new Finish(false, null);
    }
    List<Integer> remote = new ArrayList<>(promptBlocks);
    for (int i = 0; i < promptBlocks; i++) {
      remote.add(blockIds[i]);
    }
    InetSocketAddress address = server.address();
    return new Finish(
        true,
        KvTransferParams.prefillAnswer(
                engineId, id, remote, options.advertiseHost(), address.getPort(), token)
            .toJson());
  }

  private static KvTransferParams paramsOrNull(Request request) {
    try {
      return KvTransferParams.fromJson(request.kvTransferParams());
    } catch (IllegalArgumentException e) {
      // Malformed params: treated as a failed load in afterAllocate, where the policy applies.
      JsonNode node = request.kvTransferParams();
      boolean remotePrefill =
          node != null
              && node.path("do_remote_prefill").isBoolean()
              && node.path("do_remote_prefill").asBoolean();
      return remotePrefill
          ? new KvTransferParams(false, true, null, null, null, null, null, null, null)
          : null;
    }
  }

  /**
   * A decode request that ended (aborted, refused) before its load started: the prefill worker is
   * told at once, so its lease and blocks do not wait for the lease timeout (vLLM's decode side
   * does the same for requests aborted before they were scheduled). Only a configured peer is
   * dialed, as for a pull.
   */
  private void releaseUnpulled(String id, KvTransferParams params) {
    if (params.pullProblem() != null
        || !allowlist.allows(params.remoteHost(), params.remotePort())) {
      return;
    }
    loaders.execute(() -> releaseOnly(id, params));
  }

  // ---- worker side (loads run on virtual threads, started at allocation) ----

  private void releaseOnly(String requestId, KvTransferParams params) {
    TransferResult released =
        client.release(
            params.remoteHost(),
            params.remotePort(),
            params.remoteRequestId(),
            params.remoteLeaseToken());
    if (!released.isOk()) {
      LOG.log(Level.DEBUG, "lease release for {0} failed: {1}", requestId, released.message());
    }
  }

  private void load(
      String requestId, KvTransferParams params, int[] local, int[] remote, String problem) {
    long start = System.nanoTime();
    TransferResult result;
    if (problem != null) {
      result = TransferResult.failed(TransferStatus.BAD_PARAMS, problem);
    } else {
      boolean permitted = false;
      try {
        pullPermits.acquire();
        permitted = true;
        result =
            client.pull(
                params.remoteHost(),
                params.remotePort(),
                params.remoteRequestId(),
                params.remoteLeaseToken(),
                remote,
                local,
                true);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        result = TransferResult.failed(TransferStatus.CLOSED, "connector is closing");
      } catch (RuntimeException e) {
        result = TransferResult.failed(TransferStatus.PROTOCOL_ERROR, e.toString());
      } finally {
        if (permitted) {
          pullPermits.release();
        }
      }
    }
    if (result.isOk()) {
      if ("device".equals(result.path())) {
        deviceLoaded.put(requestId, local.clone());
      }
      loadsOk.incrementAndGet();
      bytesLoaded.addAndGet(result.bytes());
      loadNanos.addAndGet(System.nanoTime() - start);
    } else {
      loadsFailed.incrementAndGet();
      LOG.log(
          Level.WARNING,
          "KV load for {0} failed: {1} {2}",
          requestId,
          result.status(),
          result.message());
      events.loadFailed(
          requestId, new LoadFailure(requestId, local, result.status(), result.message()));
      return;
    }
    events.loaded(requestId);
  }

  @Override
  public Finished pollFinished() {
    return events.poll();
  }

  @Override
  public int[] takeDeviceLoadedBlocks(String requestId) {
    int[] blocks = deviceLoaded.remove(requestId);
    return blocks == null ? new int[0] : blocks;
  }

  @Override
  public List<LoadFailure> loadFailures() {
    return events.failures();
  }

  // ---- about ----

  @Override
  public LoadFailurePolicy loadFailurePolicy() {
    return config.loadFailurePolicy();
  }

  /** Where peers reach this worker's block server, when it is a producer. */
  public Optional<InetSocketAddress> transferAddress() {
    return server == null ? Optional.empty() : Optional.of(server.address());
  }

  /** Whether same-host consumers may copy straight out of our memory. */
  public boolean exportsSharedMemory() {
    return server != null && server.exportsSharedMemory();
  }

  public Stats stats() {
    return new Stats(
        leases == null ? 0 : leases.size(),
        loadsOk.get(),
        loadsFailed.get(),
        bytesLoaded.get(),
        loadNanos.get());
  }

  @Override
  public TransferStats transferStats() {
    Stats s = stats();
    return new TransferStats(
        s.bytesLoaded(), s.loadsOk(), s.loadsFailed(), s.loadNanos() / 1e9, s.liveLeases());
  }

  @Override
  public synchronized void close() {
    if (server != null) {
      server.close();
    }
    if (leases != null) {
      leases.close();
    }
    if (loaders != null) {
      loaders.shutdown();
      client.close();
    }
    Arrays.fill(secret, (byte) 0);
  }
}
