package dev.baton.engine.sched;

import dev.baton.core.BlockHash;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.ModelRunner.SeqChunk;
import dev.baton.kv.DeviceKvMemory;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.KvConnector;
import dev.baton.kv.LoadFailurePolicy;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Continuous batching over a paged KV cache: every {@link #step} admits waiting requests, runs one
 * forward pass over a mix of prefill chunks and decode tokens within the token budget, samples, and
 * emits events.
 *
 * <p>Policy (after vLLM v1): running requests first, in admission order, each taking what it still
 * needs (1 token for a decode, the rest of its prompt for a prefill, cut to the remaining budget —
 * chunked prefill); then waiting requests in arrival order while the budget, {@code maxNumSeqs} and
 * free blocks allow. When a running request needs a block and none is free, the newest running
 * request is preempted: its blocks are released and it goes back to the front of the queue to be
 * recomputed later (its cached full blocks usually survive, so recompute is mostly a cache hit).
 *
 * <p>Not thread-safe: {@link Engine} runs it on one thread.
 */
public final class Scheduler {

  private final SchedulerConfig config;
  private final ModelRunner runner;
  private final KvConnector connector;
  private final EngineListener listener;
  private final BlockManager blocks;
  private final KvEventSink kvEvents;
  private final int blockSize;
  private final Deque<EngineRequest> waiting = new ArrayDeque<>();
  private final List<EngineRequest> running = new ArrayList<>();
  // Finished requests whose blocks the connector still sends; freed when it reports them.
  private final Map<String, int[]> delayedFree = new HashMap<>();
  private final Map<String, EngineRequest> remoteLoading = new HashMap<>();
  // Requests that ended while a connector was still loading into their blocks: the blocks are
  // freed only once the connector reports that load done or failed, so it never writes into a
  // block that already belongs to someone else.
  private final Map<String, int[]> freeAfterLoad = new HashMap<>();

  /** Blocks a synchronous connector loads in this step's beforeForward (for kvFromPool). */
  private final Map<EngineRequest, int[]> syncLoads = new HashMap<>();

  public Scheduler(
      SchedulerConfig config, ModelRunner runner, KvConnector connector, EngineListener listener) {
    this(config, runner, connector, listener, KvEventSink.NONE);
  }

  /** A scheduler that reports its prefix cache's changes to {@code kvEvents}. */
  public Scheduler(
      SchedulerConfig config,
      ModelRunner runner,
      KvConnector connector,
      EngineListener listener,
      KvEventSink kvEvents) {
    this.config = config;
    this.kvEvents = kvEvents;
    this.runner = runner;
    this.connector = connector;
    this.listener = listener;
    this.blockSize = config.blockSize();
    this.blocks = new BlockManager(runner.kvPool().numBlocks(), config.prefixCaching(), kvEvents);
    if (runner.kvPool().blockSize() != blockSize) {
      throw new IllegalArgumentException(
          "block size " + blockSize + " differs from the KV pool's " + runner.kvPool().blockSize());
    }
    connector.registerKvCache(
        new PoolView(runner.kvPool(), config.modelKey(), runner.deviceKv().orElse(null)));
  }

  /** The runner's KV pool as the connectors see it. */
  private record PoolView(KvBlockPool pool, String model, DeviceKvMemory deviceMemory)
      implements KvCacheView {
    @Override
    public java.util.Optional<DeviceKvMemory> device() {
      return java.util.Optional.ofNullable(deviceMemory);
    }

    @Override
    public int numBlocks() {
      return pool.numBlocks();
    }

    @Override
    public int blockSize() {
      return pool.blockSize();
    }

    @Override
    public long blockBytes() {
      return pool.blockBytes();
    }

    @Override
    public MemorySegment block(int blockId) {
      return pool.block(blockId);
    }

    @Override
    public java.util.Optional<java.nio.file.Path> sharedFile() {
      return pool.sharedFile();
    }

    @Override
    public String layout() {
      return model
          + "/layers="
          + pool.layers()
          + "/kv_heads="
          + pool.kvHeads()
          + "/head_dim="
          + pool.headDim()
          + "/block="
          + pool.blockSize()
          + "/"
          + pool.dtype();
    }
  }

  public SchedulerConfig config() {
    return config;
  }

  public BlockManager blocks() {
    return blocks;
  }

  public int numRunning() {
    return running.size();
  }

  public int numWaiting() {
    return waiting.size();
  }

  /** Requests finished but holding blocks until the KV connector has sent them. */
  public int numDelayedFree() {
    return delayedFree.size();
  }

  public boolean hasWork() {
    return !running.isEmpty()
        || !waiting.isEmpty()
        || !delayedFree.isEmpty()
        || !freeAfterLoad.isEmpty();
  }

  /** Queues a new request for admission. */
  public void add(EngineRequest r) {
    int total = Math.min(r.promptLen() + r.options().maxTokens(), config.maxModelLen());
    if (r.promptLen() >= config.maxModelLen()) {
      finishAlone(r, FinishReason.ERROR, "prompt of " + r.promptLen() + " tokens is too long");
      return;
    }
    int[] prompt = r.prompt();
    for (int t : prompt) {
      if (t < 0 || t >= runner.vocabSize()) {
        finishAlone(r, FinishReason.ERROR, "token id " + t + " is outside the vocabulary");
        return;
      }
    }
    if (total > (long) blocks.numBlocks() * blockSize) {
      finishAlone(r, FinishReason.ERROR, "request needs more KV blocks than the pool has");
      return;
    }
    r.extraKeys =
        BlockHash.extraKeys(config.modelKey(), config.kvDtypeKey(), r.options().cacheSalt());
    r.status = RequestStatus.WAITING;
    waiting.addLast(r);
  }

  /** Ends a request in whatever state it is (client gone, abort); a finished one is left alone. */
  public void abort(EngineRequest r) {
    if (r.status == RequestStatus.FINISHED) {
      return;
    }
    finishAlone(r, FinishReason.ABORT, null);
  }

  /**
   * A request the engine refused at the door (never queued): only the connector hears of it, so a
   * prefill lease it names is released at once. No metrics: it was never a request of this engine.
   */
  public void discard(EngineRequest r) {
    if (r.status != RequestStatus.FINISHED) {
      connector.requestFinished(connectorRequest(r), new int[0], false);
    }
  }

  /** Ends every request with an error (engine failure or shutdown). */
  public void failAll(String message) {
    for (EngineRequest r : new ArrayList<>(running)) {
      finishAlone(r, FinishReason.ERROR, message);
    }
    for (EngineRequest r : new ArrayList<>(waiting)) {
      finishAlone(r, FinishReason.ERROR, message);
    }
  }

  /**
   * Runs one engine step. Returns the number of tokens computed (0 when nothing could run: no
   * requests, or all waiting on a connector or on free blocks).
   */
  public int step() {
    pollConnector();
    long t0 = System.nanoTime();
    List<Scheduled> batch = schedule();
    if (batch.isEmpty()) {
      return 0;
    }
    List<SeqChunk> chunks = new ArrayList<>(batch.size());
    List<KvConnector.StepSeq> stepSeqs = new ArrayList<>(batch.size());
    int prefill = 0;
    int decode = 0;
    for (Scheduled s : batch) {
      EngineRequest r = s.request;
      int[] newTokens = Arrays.copyOfRange(r.tokens, r.numComputed, r.numComputed + s.numTokens);
      int[] table = r.blockArray();
      chunks.add(new SeqChunk(table, r.numComputed, newTokens, s.wantLogits));
      stepSeqs.add(new KvConnector.StepSeq(r.id(), table, r.numComputed, s.numTokens));
      if (r.numComputed < r.promptLen()) {
        prefill += s.numTokens;
      } else {
        decode += s.numTokens;
      }
    }
    boolean argmaxOnly = true;
    for (Scheduled s : batch) {
      argmaxOnly &= !s.wantLogits || s.request.nextTokenIsArgmax();
    }
    connector.beforeForward(stepSeqs);
    for (Scheduled s : batch) {
      int[] loaded = syncLoads.remove(s.request);
      if (loaded != null) {
        // A synchronous connector filled them in beforeForward (those it wrote on the device
        // need no copy).
        runner.kvFromPool(without(loaded, connector.takeDeviceLoadedBlocks(s.request.id())));
      }
    }
    List<float[]> logits = argmaxOnly ? null : runner.forward(chunks);
    int[] argmax = argmaxOnly ? runner.forwardArgmax(chunks) : null;
    connector.afterForward(stepSeqs);
    for (int i = 0; i < batch.size(); i++) {
      Scheduled s = batch.get(i);
      EngineRequest r = s.request;
      r.numComputed += s.numTokens;
      cacheFullBlocks(r);
      if (s.wantLogits && argmax != null) {
        emitToken(r, argmax[i], null);
      } else if (s.wantLogits) {
        emitToken(r, logits.get(i));
      }
    }
    listener.onStep(prefill, decode, batch.size(), (System.nanoTime() - t0) / 1e9);
    return prefill + decode;
  }

  private record Scheduled(EngineRequest request, int numTokens, boolean wantLogits) {}

  private List<Scheduled> schedule() {
    int budget = config.maxNumBatchedTokens();
    List<Scheduled> out = new ArrayList<>();
    boolean preempted = false;
    for (int i = 0; i < running.size() && budget > 0; i++) {
      EngineRequest r = running.get(i);
      int n = Math.min(r.numTokens - r.numComputed, budget);
      boolean scheduled = false;
      while (true) {
        if (growBlocks(r, r.numComputed + n)) {
          scheduled = true;
          break;
        }
        EngineRequest victim = running.getLast();
        preempt(victim);
        preempted = true;
        if (victim == r) {
          break;
        }
      }
      if (!scheduled) {
        break; // r itself was the newest and got preempted; nothing after it runs
      }
      out.add(new Scheduled(r, n, r.numComputed + n == r.numTokens));
      budget -= n;
    }
    if (preempted) {
      return out; // free blocks are scarce: admit nobody this step
    }
    Set<ByteBuffer> inFlight = null;
    Iterator<EngineRequest> it = waiting.iterator();
    while (it.hasNext() && budget > 0 && running.size() < config.maxNumSeqs()) {
      EngineRequest r = it.next();
      if (r.status == RequestStatus.WAITING_FOR_REMOTE_KVS) {
        continue;
      }
      if (r.blocks.isEmpty() && blocks.prefixCaching()) {
        if (inFlight == null) {
          inFlight = blocksInFlight();
        }
        if (waitsForInFlightPrefix(r, inFlight)) {
          continue; // admitted once the running request has cached that block: no double work
        }
      }
      if (r.blocks.isEmpty()) {
        Admission a = allocateForAdmission(r);
        if (a == Admission.NO_BLOCKS) {
          break; // keep arrival order: nobody overtakes a request that does not fit yet
        }
        if (a != Admission.READY) {
          continue; // the connector is loading its KV, or not ready to say: look at the next one
        }
      }
      int capacity = (r.blocks.size() + blocks.numFreeBlocks()) * blockSize - r.numComputed;
      int n = Math.min(Math.min(r.numTokens - r.numComputed, budget), capacity);
      if (n <= 0 || !growBlocks(r, r.numComputed + n)) {
        break;
      }
      it.remove();
      r.status = RequestStatus.RUNNING;
      running.add(r);
      if (inFlight != null) {
        addInFlight(inFlight, r);
      }
      out.add(new Scheduled(r, n, r.numComputed + n == r.numTokens));
      budget -= n;
    }
    return out;
  }

  /**
   * Hashes of the prompt blocks that running requests are still computing (allocated, not yet
   * cached). A waiting request whose next uncached block is among them would compute the same KV a
   * second time in parallel: the {@code n} copies of one prompt, or a burst of requests with the
   * same long system prompt. It waits instead, and then finds those blocks in the prefix cache.
   */
  private Set<ByteBuffer> blocksInFlight() {
    Set<ByteBuffer> out = new HashSet<>();
    for (EngineRequest r : running) {
      addInFlight(out, r);
    }
    return out;
  }

  private static void addInFlight(Set<ByteBuffer> inFlight, EngineRequest r) {
    // Hashed at admission: every full block of what it has to compute, cached as they complete.
    for (int i = r.numCachedBlocks; i < r.hashes.size(); i++) {
      inFlight.add(ByteBuffer.wrap(r.hashes.get(i)));
    }
  }

  private boolean waitsForInFlightPrefix(EngineRequest r, Set<ByteBuffer> inFlight) {
    if (inFlight.isEmpty()) {
      return false;
    }
    int maxHitBlocks = (r.numTokens - 1) / blockSize;
    ensureHashes(r, maxHitBlocks);
    int next = blocks.cachedPrefix(r.hashes.subList(0, maxHitBlocks)).size();
    return next < maxHitBlocks && inFlight.contains(ByteBuffer.wrap(r.hashes.get(next)));
  }

  private enum Admission {
    READY,
    NO_BLOCKS,
    NOT_READY,
    LOADING
  }

  /**
   * Takes the request's cached prefix blocks, asks the connector for more, and allocates blocks for
   * all of them plus one new token. Takes nothing on {@code NO_BLOCKS} (the pool is short) and
   * {@code NOT_READY} (the connector cannot say yet); on {@code LOADING} the request holds its
   * blocks in {@code WAITING_FOR_REMOTE_KVS} until the connector reports the load.
   */
  private Admission allocateForAdmission(EngineRequest r) {
    ensureHashes(r, r.numTokens / blockSize);
    // At least one token must be computed to get logits, so never take the whole sequence.
    int maxHitBlocks = (r.numTokens - 1) / blockSize;
    List<Integer> hit = blocks.cachedPrefix(r.hashes.subList(0, maxHitBlocks));
    int numLocal = hit.size() * blockSize;
    KvConnector.Request kvReq = connectorRequest(r);
    KvConnector.Match match = connector.matchedTokens(kvReq, numLocal);
    if (match.tokens() < 0) {
      return Admission.NOT_READY;
    }
    int numExternal = Math.min(match.tokens(), r.numTokens - 1 - numLocal);
    int computedAfterLoad = numLocal + numExternal;
    int needBlocks = ceilDiv(computedAfterLoad + (match.async() ? 0 : 1), blockSize);
    int fresh = Math.max(0, needBlocks - hit.size());
    if (fresh + blocks.countFree(hit) > blocks.numFreeBlocks()) {
      return Admission.NO_BLOCKS;
    }
    blocks.acquire(hit);
    r.blocks.addAll(hit);
    for (int b : blocks.allocate(fresh)) {
      r.blocks.add(b);
    }
    r.numCachedBlocks = hit.size();
    r.numComputed = numLocal;
    if (r.numPreemptions == 0) {
      r.cachedPromptTokens = numLocal;
      listener.onPrefixLookup(r.numTokens, numLocal);
    }
    connector.afterAllocate(kvReq, r.blockArray(), numExternal);
    if (match.async() && numExternal > 0) {
      r.status = RequestStatus.WAITING_FOR_REMOTE_KVS;
      r.pendingExternalTokens = numExternal;
      remoteLoading.put(r.id(), r);
      return Admission.LOADING;
    }
    if (numExternal > 0) {
      syncLoads.put(r, blockRange(r, r.numComputed, r.numComputed + numExternal));
    }
    r.numComputed += numExternal;
    return Admission.READY;
  }

  /** {@code blocks} minus {@code drop} (blocks a connector already wrote on the device). */
  private static int[] without(int[] blocks, int[] drop) {
    if (drop == null || drop.length == 0) {
      return blocks;
    }
    java.util.Set<Integer> skip = new java.util.HashSet<>();
    for (int b : drop) {
      skip.add(b);
    }
    return java.util.Arrays.stream(blocks).filter(b -> !skip.contains(b)).toArray();
  }

  /** The request's blocks that hold positions {@code from..to-1}. */
  private int[] blockRange(EngineRequest r, int from, int to) {
    int first = from / blockSize;
    int end = Math.min(ceilDiv(to, blockSize), r.blocks.size());
    int[] out = new int[Math.max(0, end - first)];
    for (int i = 0; i < out.length; i++) {
      out[i] = r.blocks.get(first + i);
    }
    return out;
  }

  /** Makes sure {@code r} has blocks for {@code tokens} tokens; false if the pool is short. */
  private boolean growBlocks(EngineRequest r, int tokens) {
    int need = ceilDiv(tokens, blockSize) - r.blocks.size();
    if (need <= 0) {
      return true;
    }
    int[] got = blocks.allocate(need);
    if (got == null) {
      return false;
    }
    for (int b : got) {
      r.blocks.add(b);
    }
    return true;
  }

  private void preempt(EngineRequest r) {
    running.remove(r);
    releaseBlocks(r);
    r.numComputed = 0;
    r.numCachedBlocks = 0;
    r.numPreemptions++;
    r.status = RequestStatus.WAITING;
    waiting.addFirst(r);
    listener.onPreemption();
  }

  private void releaseBlocks(EngineRequest r) {
    int[] held = r.blockArray();
    reverse(held);
    blocks.release(held);
    r.blocks.clear();
  }

  private void pollConnector() {
    KvConnector.Finished done = connector.pollFinished();
    for (String id : done.doneSending()) {
      int[] held = delayedFree.remove(id);
      if (held != null) {
        blocks.release(held);
      }
    }
    Map<String, int[]> onDevice = new HashMap<>();
    for (String id : union(done.doneRecving(), done.failedRecving())) {
      onDevice.put(id, connector.takeDeviceLoadedBlocks(id));
      int[] held = freeAfterLoad.remove(id);
      if (held != null) {
        blocks.release(held);
      }
    }
    for (String id : done.doneRecving()) {
      EngineRequest r = remoteLoading.remove(id);
      if (r != null && r.status == RequestStatus.WAITING_FOR_REMOTE_KVS) {
        int[] range = blockRange(r, r.numComputed, r.numComputed + r.pendingExternalTokens);
        runner.kvFromPool(without(range, onDevice.get(id)));
        r.numComputed += r.pendingExternalTokens;
        r.pendingExternalTokens = 0;
        r.status = RequestStatus.WAITING;
      }
    }
    Map<String, String> why = new HashMap<>();
    for (KvConnector.LoadFailure f : connector.loadFailures()) {
      why.put(f.requestId(), f.status() + ": " + f.message());
    }
    for (String id : done.failedRecving()) {
      EngineRequest r = remoteLoading.remove(id);
      if (r == null || r.status != RequestStatus.WAITING_FOR_REMOTE_KVS) {
        continue;
      }
      r.status = RequestStatus.WAITING; // the load is over: its blocks are ours again
      if (connector.loadFailurePolicy() == LoadFailurePolicy.FAIL) {
        String detail = why.getOrDefault(id, "no detail");
        r.events()
            .add(
                finish(
                    r,
                    FinishReason.ERROR,
                    null,
                    "loading the KV cache from the remote worker failed (" + detail + ")",
                    true));
      } else {
        r.pendingExternalTokens = 0; // recompute what the connector failed to load
      }
    }
  }

  /** Hashes every full block whose KV is computed and registers it in the prefix cache. */
  private void cacheFullBlocks(EngineRequest r) {
    int full = Math.min(r.numComputed / blockSize, r.blocks.size());
    if (full <= r.numCachedBlocks) {
      return;
    }
    ensureHashes(r, full);
    int runStart = -1; // first block of the current run of newly cached blocks
    for (int i = r.numCachedBlocks; i < full; i++) {
      boolean fresh = blocks.cache(r.blocks.get(i), r.hashes.get(i));
      if (fresh && runStart < 0) {
        runStart = i;
      } else if (!fresh && runStart >= 0) {
        publishStored(r, runStart, i);
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      publishStored(r, runStart, full);
    }
    r.numCachedBlocks = full;
  }

  /** Tells the KV event sink that blocks {@code [from, to)} of {@code r} are now cached. */
  private void publishStored(EngineRequest r, int from, int to) {
    byte[][] hashes = r.hashes.subList(from, to).toArray(new byte[0][]);
    int[] tokens = Arrays.copyOfRange(r.tokens, from * blockSize, to * blockSize);
    byte[] parent = from == 0 ? null : r.hashes.get(from - 1);
    kvEvents.stored(hashes, parent, tokens, blockSize, r.options().cacheSalt());
  }

  private void ensureHashes(EngineRequest r, int numBlocks) {
    while (r.hashes.size() < numBlocks) {
      int i = r.hashes.size();
      byte[] parent = i == 0 ? BlockHash.ROOT : r.hashes.get(i - 1);
      r.hashes.add(BlockHash.of(parent, r.tokens, i * blockSize, (i + 1) * blockSize, r.extraKeys));
    }
  }

  private void emitToken(EngineRequest r, float[] logits) {
    float[] raw = OutputProcessor.beforeSampling(r, logits);
    emitToken(r, r.sampler().sample(logits, r.tokens, r.promptLen(), r.numTokens), raw);
  }

  /** Appends {@code token}; {@code raw} holds the unmasked logits when logprobs are asked for. */
  private void emitToken(EngineRequest r, int token, float[] raw) {
    r.append(token);
    long now = System.nanoTime();
    if (r.firstTokenNanos == 0) {
      r.firstTokenNanos = now;
      listener.onFirstToken(r, (now - r.arrivalNanos()) / 1e9);
    } else {
      listener.onToken((now - r.lastTokenNanos) / 1e9);
    }
    r.lastTokenNanos = now;
    OutputProcessor.Output out = OutputProcessor.afterSampling(r, token, raw, config.maxModelLen());
    EngineEvent.Finished end =
        out.reason() == null ? null : finish(r, out.reason(), out.stopReason(), null);
    r.events()
        .add(
            new EngineEvent.Token(
                token, out.delta(), out.logprob(), out.topIds(), out.topLogprobs(), end));
  }

  /** Ends a request without a token: the end event goes to its channel on its own. */
  private void finishAlone(EngineRequest r, FinishReason reason, String error) {
    if (r.status != RequestStatus.FINISHED) {
      r.events().add(finish(r, reason, null, error));
    }
  }

  /** Releases the request's blocks (or hands them to the connector) and builds its end event. */
  private EngineEvent.Finished finish(
      EngineRequest r, FinishReason reason, Object stopReason, String error) {
    return finish(r, reason, stopReason, error, false);
  }

  private EngineEvent.Finished finish(
      EngineRequest r, FinishReason reason, Object stopReason, String error, boolean retryable) {
    boolean loading = r.status == RequestStatus.WAITING_FOR_REMOTE_KVS;
    running.remove(r);
    waiting.remove(r);
    remoteLoading.remove(r.id());
    syncLoads.remove(r);
    r.status = RequestStatus.FINISHED;
    KvConnector.Finish kv = new KvConnector.Finish(false, null);
    if (r.extraKeys != null) {
      int[] held = r.blockArray();
      boolean completed = reason == FinishReason.STOP || reason == FinishReason.LENGTH;
      if (completed && connector != KvConnector.NONE && held.length > 0) {
        runner.kvToPool(held); // the connector may offer these blocks as soon as it is told
      }
      kv = connector.requestFinished(connectorRequest(r), held, completed);
      if (loading && held.length > 0) {
        reverse(held);
        freeAfterLoad.put(r.id(), held);
        r.blocks.clear();
      } else if (kv.delayFree() && held.length > 0) {
        reverse(held);
        delayedFree.put(r.id(), held);
        r.blocks.clear();
      } else {
        releaseBlocks(r);
      }
    } else {
      // Refused before it was queued (too long, bad token): it holds no blocks, but the
      // connector still hears of its end, so a prefill lease it names is released at once.
      connector.requestFinished(connectorRequest(r), new int[0], false);
    }
    listener.onFinished(r, reason, (System.nanoTime() - r.arrivalNanos()) / 1e9);
    return new EngineEvent.Finished(
        reason,
        stopReason,
        r.promptLen(),
        r.numOutput(),
        Math.max(0, r.cachedPromptTokens),
        kv.kvTransferParams(),
        error,
        retryable);
  }

  private KvConnector.Request connectorRequest(EngineRequest r) {
    return new KvConnector.Request(
        r.id(), r.prompt(), r.hashes, blockSize, r.options().kvTransferParams());
  }

  private static java.util.Set<String> union(java.util.Set<String> a, java.util.Set<String> b) {
    java.util.Set<String> out = new java.util.HashSet<>(a);
    out.addAll(b);
    return out;
  }

  private static void reverse(int[] a) {
    for (int i = 0, j = a.length - 1; i < j; i++, j--) {
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}
