package dev.baton.kv;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peer-to-peer KV transfer in vLLM's NixlConnector protocol. As a producer (prefill), a finished
 * {@code do_remote_decode} request keeps its prompt blocks under a lease and answers with where to
 * pull them ({@code remote_host}, {@code remote_port}, {@code remote_block_ids}, {@code
 * remote_lease_token}). As a consumer (decode), a {@code do_remote_prefill} request pulls the
 * prompt blocks it lacks in one message, in the background, and releases the lease.
 */
public final class P2pConnector implements KvConnector {

  public static final String NAME = "P2pConnector";

  private static final System.Logger LOG = System.getLogger(P2pConnector.class.getName());

  private final KvTransferConfig config;
  private final KvConnectorContext context;
  private final P2pOptions options;
  private final String engineId;
  private final LeaseTable leases;
  private final BlockServer server;
  private final BlockClient client;
  private final ExecutorService loaders;
  private final Semaphore pullPermits;

  private final ConcurrentLinkedQueue<String> doneSending = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> doneRecving = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<LoadFailure> failures = new ConcurrentLinkedQueue<>();

  /** numComputed at match time, per request waiting for {@link #updateStateAfterAlloc}. */
  private final Map<String, Integer> matchedFrom = new ConcurrentHashMap<>();

  /** Requests whose remote prefill was already taken care of (load started or not needed). */
  private final Set<String> consumed = ConcurrentHashMap.newKeySet();

  private final List<PendingLoad> pending = new ArrayList<>();

  /** Loads in flight, and those whose request was aborted meanwhile (guarded by itself). */
  private final Set<String> loading = new HashSet<>();

  private final Set<String> abortedWhileLoading = new HashSet<>();

  private final AtomicLong loadsOk = new AtomicLong();
  private final AtomicLong loadsFailed = new AtomicLong();
  private final AtomicLong bytesLoaded = new AtomicLong();
  private final AtomicLong loadNanos = new AtomicLong();

  private record PendingLoad(
      String requestId, KvTransferParams params, int[] localIds, int[] remoteIds, String problem) {}

  P2pConnector(KvTransferConfig config, KvConnectorContext context) throws IOException {
    this.config = config;
    this.context = context;
    this.options = config.p2pOptions();
    this.engineId = config.engineId() != null ? config.engineId() : "baton-" + UUID.randomUUID();
    byte[] secret = options.resolveSecret();
    if (config.role().produces()) {
      this.leases = new LeaseTable(options.lease().toMillis(), (id, end) -> doneSending.add(id));
      this.server =
          new BlockServer(
              context.memory(),
              leases,
              secret,
              context.layoutKey(),
              new BlockServer.Options(
                  options.bindHost(),
                  options.port(),
                  options.transport() != Transport.TCP,
                  java.time.Duration.ofSeconds(5),
                  options.maxConnections()));
    } else {
      this.leases = null;
      this.server = null;
    }
    if (config.role().consumes()) {
      this.client =
          new BlockClient(
              context.memory(),
              secret,
              context.layoutKey(),
              options.transport(),
              options.timeout());
      this.loaders = Executors.newVirtualThreadPerTaskExecutor();
      this.pullPermits = new Semaphore(options.maxConcurrentPulls());
    } else {
      this.client = null;
      this.loaders = null;
      this.pullPermits = null;
    }
    Arrays.fill(secret, (byte) 0);
  }

  public String engineId() {
    return engineId;
  }

  // ---- scheduler side ----

  @Override
  public ExternalMatch numNewMatchedTokens(KvRequest request, int numComputedTokens) {
    KvTransferParams params = request.kvTransferParams();
    if (client == null
        || params == null
        || !params.doRemotePrefill()
        || consumed.contains(request.requestId())) {
      return ExternalMatch.NONE;
    }
    // Never offer the last prompt token: computing it here gives the first token's logits.
    int loadable = request.promptLength() - 1 - numComputedTokens;
    matchedFrom.put(request.requestId(), numComputedTokens);
    return loadable > 0 ? new ExternalMatch(loadable, true) : ExternalMatch.NONE;
  }

  @Override
  public void updateStateAfterAlloc(KvRequest request, int[] blockIds, int numExternalTokens) {
    KvTransferParams params = request.kvTransferParams();
    Integer from = matchedFrom.remove(request.requestId());
    if (client == null || params == null || !params.doRemotePrefill() || from == null) {
      return;
    }
    if (!consumed.add(request.requestId())) {
      return;
    }
    String problem = params.pullProblem();
    if (numExternalTokens <= 0) {
      // Everything is here already; the producer still waits to hear that we are done.
      if (problem == null) {
        synchronized (pending) {
          pending.add(new PendingLoad(request.requestId(), params, new int[0], new int[0], null));
        }
      }
      return;
    }
    int blockSize = context.blockSize();
    int first = from / blockSize;
    int end = (from + numExternalTokens + blockSize - 1) / blockSize;
    if (problem == null && from % blockSize != 0) {
      problem = "locally computed prefix (" + from + " tokens) is not block aligned";
    }
    if (problem == null && end > blockIds.length) {
      problem = "the scheduler allocated " + blockIds.length + " blocks, need " + end;
    }
    if (problem == null && end > params.remoteBlockIds().size()) {
      problem =
          "remote_block_ids has "
              + params.remoteBlockIds().size()
              + " blocks, the prompt needs "
              + end;
    }
    int[] local = problem == null ? Arrays.copyOfRange(blockIds, first, end) : blockIds.clone();
    int[] remote =
        problem == null
            ? params.remoteBlockIds().subList(first, end).stream().mapToInt(i -> i).toArray()
            : new int[0];
    synchronized (pending) {
      pending.add(new PendingLoad(request.requestId(), params, local, remote, problem));
    }
  }

  @Override
  public FinishDecision requestFinished(
      KvRequest request, int[] blockIds, boolean finishedNormally) {
    String id = request.requestId();
    matchedFrom.remove(id);
    consumed.remove(id);
    synchronized (loading) {
      if (loading.contains(id)) {
        abortedWhileLoading.add(id); // blocks freed once the pull stops writing into them
        return new FinishDecision(true, null);
      }
    }
    KvTransferParams params = request.kvTransferParams();
    if (server == null || params == null || !params.doRemoteDecode() || !finishedNormally) {
      return FinishDecision.FREE_NOW;
    }
    int promptBlocks = (request.promptLength() + context.blockSize() - 1) / context.blockSize();
    if (blockIds.length < promptBlocks) {
      LOG.log(Level.WARNING, "request {0} has fewer blocks than its prompt; not leased", id);
      return FinishDecision.FREE_NOW;
    }
    String token;
    try {
      token = leases.grant(id, blockIds);
    } catch (IllegalStateException e) {
      LOG.log(Level.WARNING, "request id {0} is already leased; not leasing again", id);
      return FinishDecision.FREE_NOW;
    }
    List<Integer> remote = new ArrayList<>(promptBlocks);
    for (int i = 0; i < promptBlocks; i++) {
      remote.add(blockIds[i]);
    }
    InetSocketAddress address = server.address();
    return new FinishDecision(
        true,
        KvTransferParams.prefillAnswer(
            engineId, id, remote, options.advertiseHost(), address.getPort(), token));
  }

  // ---- worker side ----

  @Override
  public void startLoadKv() {
    List<PendingLoad> batch;
    synchronized (pending) {
      if (pending.isEmpty()) {
        return;
      }
      batch = new ArrayList<>(pending);
      pending.clear();
    }
    for (PendingLoad load : batch) {
      boolean releaseOnly = load.localIds().length == 0 && load.problem() == null;
      if (!releaseOnly) {
        synchronized (loading) {
          loading.add(load.requestId());
        }
      }
      loaders.execute(() -> run(load, releaseOnly));
    }
  }

  private void run(PendingLoad load, boolean releaseOnly) {
    KvTransferParams params = load.params();
    if (releaseOnly) {
      TransferResult released =
          client.release(
              params.remoteHost(),
              params.remotePort(),
              params.remoteRequestId(),
              params.remoteLeaseToken());
      if (!released.isOk()) {
        LOG.log(
            Level.DEBUG, "lease release for {0} failed: {1}", load.requestId(), released.message());
      }
      return;
    }
    TransferResult result;
    long start = System.nanoTime();
    if (load.problem() != null) {
      result = TransferResult.failed(TransferStatus.BAD_PARAMS, load.problem());
    } else {
      try {
        pullPermits.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        result = TransferResult.failed(TransferStatus.CLOSED, "connector is closing");
        settle(load, result, start);
        return;
      }
      try {
        result =
            client.pull(
                params.remoteHost(),
                params.remotePort(),
                params.remoteRequestId(),
                params.remoteLeaseToken(),
                load.remoteIds(),
                load.localIds(),
                true);
      } catch (RuntimeException e) {
        result = TransferResult.failed(TransferStatus.PROTOCOL_ERROR, e.toString());
      } finally {
        pullPermits.release();
      }
    }
    settle(load, result, start);
  }

  private void settle(PendingLoad load, TransferResult result, long start) {
    if (result.isOk()) {
      loadsOk.incrementAndGet();
      bytesLoaded.addAndGet(result.bytes());
      loadNanos.addAndGet(System.nanoTime() - start);
    } else {
      loadsFailed.incrementAndGet();
      LOG.log(
          Level.WARNING,
          "KV load for {0} failed: {1} {2}",
          load.requestId(),
          result.status(),
          result.message());
      failures.add(
          new LoadFailure(load.requestId(), load.localIds(), result.status(), result.message()));
    }
    synchronized (loading) {
      loading.remove(load.requestId());
      if (abortedWhileLoading.remove(load.requestId())) {
        doneSending.add(load.requestId());
        return;
      }
    }
    doneRecving.add(load.requestId());
  }

  /** P2P loads whole blocks before the request is scheduled: nothing to wait for per layer. */
  @Override
  public void waitForLayerLoad(int layer) {}

  /** A P2P producer does not push; decode workers pull leased blocks. */
  @Override
  public void saveKvLayer(int layer) {}

  @Override
  public void waitForSave() {}

  @Override
  public Finished finished() {
    Set<String> sending = new HashSet<>();
    for (String id; (id = doneSending.poll()) != null; ) {
      sending.add(id);
    }
    Set<String> recving = new HashSet<>();
    for (String id; (id = doneRecving.poll()) != null; ) {
      recving.add(id);
    }
    return new Finished(sending, recving);
  }

  @Override
  public List<LoadFailure> loadFailures() {
    List<LoadFailure> out = new ArrayList<>();
    for (LoadFailure failure; (failure = failures.poll()) != null; ) {
      out.add(failure);
    }
    return out;
  }

  // ---- about ----

  @Override
  public LoadFailurePolicy loadFailurePolicy() {
    return config.loadFailurePolicy();
  }

  @Override
  public Optional<InetSocketAddress> transferAddress() {
    return server == null ? Optional.empty() : Optional.of(server.address());
  }

  /** Whether same-host consumers may copy straight out of our memory. */
  public boolean exportsSharedMemory() {
    return server != null && server.exportsSharedMemory();
  }

  @Override
  public Stats stats() {
    return new Stats(
        leases == null ? 0 : leases.size(),
        loadsOk.get(),
        loadsFailed.get(),
        bytesLoaded.get(),
        loadNanos.get());
  }

  @Override
  public void close() {
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
  }
}
