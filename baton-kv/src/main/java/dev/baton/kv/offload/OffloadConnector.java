package dev.baton.kv.offload;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.kv.KvCacheStats;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.KvConnector;
import dev.baton.kv.KvTransferConfig;
import dev.baton.kv.LoadFailurePolicy;
import dev.baton.kv.TransferEvents;
import dev.baton.kv.TransferStatus;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * KV through a shared cache (AIBrix's KV offloading, LMCache): every full block a worker computes
 * is saved, keyed by its chained block hash (model, KV dtype and {@code cache_salt} included), to
 * L1 (this worker's host memory) and L2 (a Redis / Valkey server all workers share); before a new
 * request is computed the longest cached prefix of its prompt is loaded instead.
 *
 * <p><b>Load.</b> {@link #matchedTokens} counts the prompt blocks L1 holds one after another. When
 * L2 may hold more, it starts one lookup in the background (which copies the blocks found into L1)
 * and answers "ask later"; the engine goes on with other requests and asks again. The load itself
 * copies L1 into the engine's blocks on a virtual thread. A miss anywhere (evicted meanwhile, L2
 * down or slow, a value that fails its header check) only makes the engine compute those tokens.
 *
 * <p><b>Save.</b> When a request completes, the blocks L1 lacks are queued (bounded: a save that
 * does not fit is dropped and counted) and the engine keeps them until the saver thread has copied
 * them to L1; the saver then writes them to L2 in one pipelined batch. Nothing of this runs on the
 * engine thread.
 *
 * <p><b>P/D through the cache.</b> A prefill request ({@code do_remote_decode}) is answered with
 * {@code do_remote_prefill} and {@code kv_cache_blocks}, the number of blocks it saves. The decode
 * worker, given those params, waits up to {@code l2_wait_ms} for that many blocks to appear in L2
 * (the prefill's write may still be on its way), then loads them like any other cached prefix.
 */
public final class OffloadConnector implements KvConnector {

  public static final String NAME = "OffloadConnector";

  /** The {@code kv_transfer_params} key telling a decode worker how many blocks to expect. */
  public static final String BLOCKS_PARAM = "kv_cache_blocks";

  private static final System.Logger LOG = System.getLogger(OffloadConnector.class.getName());

  /** Blocks one L2 read asks for: a lookup stops at the first chunk with a miss. */
  private static final int L2_READ_CHUNK = 16;

  /** Blocks one L2 write batch carries. */
  private static final int L2_WRITE_CHUNK = 32;

  private final KvTransferConfig config;
  private final OffloadOptions options;
  private final String engineId;
  private volatile KvCacheView cache;
  private L1Store l1;
  private L2Store l2;
  private BlockCodec codec;
  private ExecutorService background;
  private Thread saver;
  private volatile boolean closed;

  private final LinkedBlockingQueue<SaveJob> saveQueue = new LinkedBlockingQueue<>();
  private final AtomicInteger queuedBlocks = new AtomicInteger();
  private final TransferEvents events = new TransferEvents();

  /** numComputed at match time, per request between {@link #matchedTokens} and allocation. */
  private final Map<String, Integer> matchedFrom = new ConcurrentHashMap<>();

  /** L2 lookups started for waiting requests (one at a time per request). */
  private final Map<String, Lookup> lookups = new ConcurrentHashMap<>();

  private final AtomicLong loadsOk = new AtomicLong();
  private final AtomicLong loadsFailed = new AtomicLong();
  private final AtomicLong bytesLoaded = new AtomicLong();
  private final AtomicLong loadNanos = new AtomicLong();
  private final AtomicLong hitTokens = new AtomicLong();
  private final AtomicLong queryTokens = new AtomicLong();
  private final AtomicLong savedBlocks = new AtomicLong();
  private final AtomicLong droppedBlocks = new AtomicLong();
  private final AtomicLong l2Rejected = new AtomicLong();

  private record SaveJob(String requestId, List<BlockKey> keys, int[] blockIds) {}

  /** One background L2 lookup: done once the blocks found are in L1. */
  private static final class Lookup {
    final long deadlineNanos;
    volatile boolean done;

    Lookup(long deadlineNanos) {
      this.deadlineNanos = deadlineNanos;
    }
  }

  /** Counters of both tiers, for metrics. */
  public record Stats(
      L1Store.Stats l1,
      L2Store.Stats l2,
      long queryTokens,
      long hitTokens,
      long savedBlocks,
      long droppedBlocks,
      long l2Rejected,
      int queuedBlocks) {}

  public OffloadConnector(KvTransferConfig config) {
    this.config = config;
    this.options = OffloadOptions.fromJson(config.extraConfig());
    this.engineId = config.engineId() != null ? config.engineId() : "baton-" + UUID.randomUUID();
  }

  public OffloadOptions options() {
    return options;
  }

  @Override
  public synchronized void registerKvCache(KvCacheView view) {
    if (cache != null) {
      throw new IllegalStateException("the KV cache is already registered");
    }
    l1 = new L1Store(options.l1CapacityBytes(), view.blockBytes(), options.l1Eviction());
    codec = new BlockCodec(view.layout(), view.blockBytes());
    if (options.l2Url() != null) {
      l2 =
          new L2Store(
              options.l2Url(),
              options.l2KeyPrefix(),
              options.l2Timeout(),
              options.l2TtlSeconds(),
              codec.valueBytes());
      // Bounded: an unreachable server fails the attempt at once or after the connect timeout.
      l2.awaitFirstAttempt(options.l2Timeout().plusSeconds(10));
    }
    background = Executors.newVirtualThreadPerTaskExecutor();
    cache = view;
    if (config.role().canPrefill()) {
      saver = Thread.ofPlatform().daemon().name("kv-offload-saver").start(this::saveLoop);
    }
  }

  // ---- scheduler side ----

  private boolean loads() {
    return cache != null && config.role().canDecode();
  }

  @Override
  public Match matchedTokens(Request request, int numComputedTokens) {
    if (!loads()) {
      return Match.NONE;
    }
    int blockSize = request.blockSize();
    int first = numComputedTokens / blockSize;
    // Never offer the last prompt token: computing it here gives the first token's logits.
    int end =
        Math.min(request.blockHashes().size(), (request.promptTokens().length - 1) / blockSize);
    if (first >= end || numComputedTokens % blockSize != 0) {
      return Match.NONE;
    }
    List<BlockKey> keys = keys(request.blockHashes(), first, end);
    int cached = l1.cachedPrefix(keys);
    if (cached < keys.size() && l2 != null) {
      String id = request.requestId();
      int expected = expectedBlocks(request) - first;
      Lookup lookup = lookups.get(id);
      long now = System.nanoTime();
      if (lookup == null) {
        if (!l2.connected() && expected <= 0) {
          l2Rejected.incrementAndGet();
        } else {
          startLookup(id, keys.subList(cached, keys.size()), now + options.l2Wait().toNanos());
          return Match.ASK_LATER;
        }
      } else if (!lookup.done) {
        return Match.ASK_LATER;
      } else if (cached < Math.min(expected, keys.size()) && now < lookup.deadlineNanos) {
        // P/D through the cache: the prefill's blocks may not all be in L2 yet; look again.
        startLookup(id, keys.subList(cached, keys.size()), lookup.deadlineNanos);
        return Match.ASK_LATER;
      }
    }
    matchedFrom.put(request.requestId(), numComputedTokens);
    return cached > 0 ? new Match(cached * blockSize, true) : Match.NONE;
  }

  /** The blocks a prefill worker announced in {@code kv_cache_blocks}, or 0. */
  private static int expectedBlocks(Request request) {
    JsonNode params = request.kvTransferParams();
    if (params == null || !params.path("do_remote_prefill").asBoolean(false)) {
      return 0;
    }
    if (params.hasNonNull("remote_lease_token")) {
      return 0; // a P2P peer holds the blocks too (MultiConnector): no need to wait for L2
    }
    JsonNode n = params.path(BLOCKS_PARAM);
    return n.canConvertToInt() ? Math.max(0, n.asInt()) : 0;
  }

  private void startLookup(String requestId, List<BlockKey> keys, long deadlineNanos) {
    Lookup lookup = new Lookup(deadlineNanos);
    lookups.put(requestId, lookup);
    List<BlockKey> wanted = List.copyOf(keys);
    background.execute(
        () -> {
          try {
            fetchIntoL1(wanted);
          } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "KV cache L2 lookup failed: {0}", e.toString());
          } finally {
            lookup.done = true;
          }
        });
  }

  /** Reads {@code keys} from L2 in order until the first miss, copying valid blocks into L1. */
  private void fetchIntoL1(List<BlockKey> keys) {
    L2PrefixLoader.load(l2, codec, l1, keys, L2_READ_CHUNK, true);
  }

  @Override
  public void afterAllocate(Request request, int[] blockIds, int numExternalTokens) {
    String id = request.requestId();
    lookups.remove(id);
    Integer from = matchedFrom.remove(id);
    if (!loads() || from == null) {
      return;
    }
    int blockSize = request.blockSize();
    queryTokens.addAndGet(request.promptTokens().length - from);
    if (numExternalTokens <= 0) {
      return;
    }
    int first = from / blockSize;
    int end = first + (numExternalTokens + blockSize - 1) / blockSize;
    if (end > blockIds.length || end > request.blockHashes().size()) {
      fail(
          id,
          new int[0],
          "the engine allocated " + blockIds.length + " blocks, the load needs " + end);
      return;
    }
    List<BlockKey> keys = keys(request.blockHashes(), first, end);
    int[] targets = java.util.Arrays.copyOfRange(blockIds, first, end);
    background.execute(() -> load(id, keys, targets, numExternalTokens));
  }

  private void load(String requestId, List<BlockKey> keys, int[] targets, int tokens) {
    long start = System.nanoTime();
    try {
      for (int i = 0; i < keys.size(); i++) {
        if (!l1.copyTo(keys.get(i), cache.block(targets[i]))) {
          fail(requestId, targets, "block " + keys.get(i) + " left the L1 cache before its load");
          return;
        }
      }
    } catch (RuntimeException e) {
      fail(requestId, targets, e.toString());
      return;
    }
    loadsOk.incrementAndGet();
    hitTokens.addAndGet(tokens);
    bytesLoaded.addAndGet(keys.size() * l1.blockBytes());
    loadNanos.addAndGet(System.nanoTime() - start);
    events.loaded(requestId);
  }

  private void fail(String requestId, int[] blockIds, String why) {
    loadsFailed.incrementAndGet();
    events.loadFailed(requestId, new LoadFailure(requestId, blockIds, TransferStatus.TIMEOUT, why));
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds) {
    return requestFinished(request, blockIds, true);
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds, boolean completed) {
    String id = request.requestId();
    matchedFrom.remove(id);
    lookups.remove(id);
    if (cache == null || !config.role().canPrefill() || !completed) {
      return new Finish(false, null);
    }
    // A completed request computed every block it has a hash for (the last sampled token, which
    // has no KV yet, never completes a hashed block).
    int full = Math.min(request.blockHashes().size(), blockIds.length);
    JsonNode answer = prefillAnswer(request, full);
    List<BlockKey> keys = new ArrayList<>();
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < full; i++) {
      BlockKey key = new BlockKey(request.blockHashes().get(i));
      // A P/D prefill writes every block to L2 even when L1 knew it: the decode worker reads L2,
      // which may have lost it (restarted, evicted) since this worker last wrote it.
      if (answer != null || !l1.contains(key)) {
        keys.add(key);
        ids.add(blockIds[i]);
      }
    }
    if (keys.isEmpty()) {
      return new Finish(false, answer);
    }
    if (queuedBlocks.addAndGet(keys.size()) > options.saveQueueBlocks()) {
      queuedBlocks.addAndGet(-keys.size());
      droppedBlocks.addAndGet(keys.size());
      return new Finish(false, answer);
    }
    saveQueue.add(new SaveJob(id, keys, ids.stream().mapToInt(Integer::intValue).toArray()));
    return new Finish(true, answer);
  }

  /** For a prefill request ({@code do_remote_decode}): what the decode worker needs to know. */
  private JsonNode prefillAnswer(Request request, int blocks) {
    JsonNode params = request.kvTransferParams();
    if (params == null || !params.path("do_remote_decode").asBoolean(false)) {
      return null;
    }
    ObjectNode out = Json.object();
    out.put("do_remote_decode", false);
    out.put("do_remote_prefill", true);
    out.put("remote_engine_id", engineId);
    out.put("remote_request_id", request.requestId());
    out.put(BLOCKS_PARAM, blocks);
    return out;
  }

  // ---- saver thread ----

  private void saveLoop() {
    while (!closed) {
      SaveJob job;
      try {
        job = saveQueue.take();
      } catch (InterruptedException e) {
        return;
      }
      List<BlockKey> l2Keys = new ArrayList<>();
      List<byte[]> l2Values = new ArrayList<>();
      try {
        for (int i = 0; i < job.keys().size(); i++) {
          BlockKey key = job.keys().get(i);
          MemorySegment block = cache.block(job.blockIds()[i]);
          if (l2 != null) {
            l2Values.add(codec.encode(key.bytes(), block));
            l2Keys.add(key);
          }
          l1.put(key, block);
        }
        savedBlocks.addAndGet(job.keys().size());
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "saving KV of {0} failed: {1}", job.requestId(), e.toString());
      } finally {
        queuedBlocks.addAndGet(-job.keys().size());
        events.sent(job.requestId()); // the engine may free the blocks now
      }
      for (int from = 0; from < l2Keys.size(); from += L2_WRITE_CHUNK) {
        int to = Math.min(l2Keys.size(), from + L2_WRITE_CHUNK);
        if (!l2.putAll(l2Keys.subList(from, to), l2Values.subList(from, to))) {
          break; // down or slow: the rest would fail the same way
        }
      }
    }
  }

  // ---- polling ----

  @Override
  public Finished pollFinished() {
    return events.poll();
  }

  @Override
  public List<LoadFailure> loadFailures() {
    return events.failures();
  }

  /** A cache miss never fails a request: the engine computes what could not be loaded. */
  @Override
  public LoadFailurePolicy loadFailurePolicy() {
    return LoadFailurePolicy.RECOMPUTE;
  }

  private static List<BlockKey> keys(List<byte[]> hashes, int from, int to) {
    List<BlockKey> out = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      out.add(new BlockKey(hashes.get(i)));
    }
    return out;
  }

  // ---- about ----

  public String engineId() {
    return engineId;
  }

  public Stats stats() {
    return new Stats(
        l1 == null ? null : l1.stats(),
        l2 == null ? null : l2.stats(),
        queryTokens.get(),
        hitTokens.get(),
        savedBlocks.get(),
        droppedBlocks.get(),
        l2Rejected.get(),
        queuedBlocks.get());
  }

  @Override
  public java.util.Optional<KvCacheStats> cacheStats() {
    if (l1 == null) {
      return java.util.Optional.empty();
    }
    List<KvCacheStats.Tier> tiers = new ArrayList<>();
    L1Store.Stats a = l1.stats();
    tiers.add(
        new KvCacheStats.Tier(
            "l1",
            a.hits(),
            a.misses(),
            a.stored(),
            a.bytesStored(),
            a.bytesLoaded(),
            a.evictions(),
            a.rejected(),
            a.entries() * l1.blockBytes(),
            a.capacityBlocks() * l1.blockBytes()));
    if (l2 != null) {
      L2Store.Stats b = l2.stats();
      tiers.add(
          new KvCacheStats.Tier(
              "l2",
              b.hits(),
              b.misses(),
              b.writes(),
              b.bytesWritten(),
              b.bytesRead(),
              0,
              b.errors(),
              0,
              0));
    }
    return java.util.Optional.of(
        new KvCacheStats(queryTokens.get(), hitTokens.get(), droppedBlocks.get(), tiers));
  }

  @Override
  public TransferStats transferStats() {
    return new TransferStats(
        bytesLoaded.get(), loadsOk.get(), loadsFailed.get(), loadNanos.get() / 1e9, 0);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (saver != null) {
      saver.interrupt();
      try {
        saver.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (background != null) {
      background.shutdownNow();
    }
    if (l2 != null) {
      l2.close();
    }
    if (l1 != null) {
      l1.close();
    }
  }
}
