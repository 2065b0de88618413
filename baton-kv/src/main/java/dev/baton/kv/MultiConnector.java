package dev.baton.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Several connectors behind one, as vLLM's MultiConnector, but chained: a request loads a prefix
 * from one connector, the rest from the next that has more, and computes what none has. A cache
 * (the offload connector) goes before a peer whatever the configured order, and among equals the
 * longest match goes first: prefix from the shared cache, suffix pulled from the prefill peer.
 * Every connector that saves, saves. Configured as
 *
 * <pre>
 * {"kv_connector": "MultiConnector", "kv_role": "kv_both",
 *  "kv_connector_extra_config": {"connectors": [
 *     {"kv_connector": "P2pConnector", "kv_connector_extra_config": {...}},
 *     {"kv_connector": "OffloadConnector", "kv_connector_extra_config": {...}}]}}
 * </pre>
 *
 * A part inherits {@code kv_role}, {@code engine_id} and {@code kv_load_failure_policy} from the
 * outer config unless it names its own; a {@code secret} / {@code secret_file} of the outer config
 * ({@code --kv-secret}) goes to the parts that have none.
 *
 * <p>A request's load is done when every part that loads for it is done, and failed when any part
 * failed; its blocks are free when every part that kept them is done sending.
 */
public final class MultiConnector implements KvConnector {

  public static final String NAME = "MultiConnector";

  private final KvTransferConfig config;
  private final List<KvConnector> parts;

  /** Per waiting request: the tokens each part loads, in load order, from the last match. */
  private final Map<String, List<Share>> plans = new HashMap<>();

  private final Map<String, Set<Integer>> loading = new HashMap<>();
  private final Set<String> loadFailed = new HashSet<>();
  private final Map<String, Set<Integer>> sending = new HashMap<>();
  private final Map<String, LoadFailure> failureDetail = new HashMap<>();
  private final List<LoadFailure> reportedFailures = new ArrayList<>();

  private record Share(int part, int tokens, boolean async) {}

  public MultiConnector(KvTransferConfig config) {
    this.config = config;
    List<KvConnector> built = new ArrayList<>();
    try {
      for (KvTransferConfig part : parts(config)) {
        built.add(KvConnectors.create(part));
      }
    } catch (RuntimeException e) {
      built.forEach(KvConnector::close);
      throw e;
    }
    this.parts = List.copyOf(built);
  }

  /** The parts' configs from {@code connectors}; a mistake is an IllegalArgumentException. */
  public static List<KvTransferConfig> parts(KvTransferConfig config) {
    JsonNode extra = config.extraConfig();
    for (var it = extra.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!Set.of("connectors", "secret", "secret_file").contains(key)) {
        throw new IllegalArgumentException(
            "unknown key '" + key + "' in MultiConnector's kv_connector_extra_config");
      }
    }
    JsonNode list = extra.get("connectors");
    if (list == null || !list.isArray() || list.isEmpty()) {
      throw new IllegalArgumentException(
          "MultiConnector needs kv_connector_extra_config.connectors: a non-empty array");
    }
    List<KvTransferConfig> out = new ArrayList<>();
    for (JsonNode item : list) {
      if (!item.isObject()) {
        throw new IllegalArgumentException("every entry of connectors must be a JSON object");
      }
      ObjectNode part = item.deepCopy();
      if (NAME.equals(part.path("kv_connector").asText())) {
        throw new IllegalArgumentException("a MultiConnector cannot contain a MultiConnector");
      }
      if (!part.has("kv_role")) {
        part.put("kv_role", config.role().kvRoleName());
      }
      if (!part.has("engine_id") && config.engineId() != null) {
        part.put("engine_id", config.engineId());
      }
      if (!part.has("kv_load_failure_policy")) {
        part.put("kv_load_failure_policy", config.loadFailurePolicy().wireName());
      }
      ObjectNode partExtra =
          part.path("kv_connector_extra_config").isObject()
              ? (ObjectNode) part.get("kv_connector_extra_config")
              : part.putObject("kv_connector_extra_config");
      boolean p2p = dev.baton.kv.p2p.P2pConnector.NAME.equals(part.path("kv_connector").asText());
      if (p2p && !partExtra.has("secret") && !partExtra.has("secret_file")) {
        for (String key : List.of("secret", "secret_file")) {
          if (extra.has(key)) {
            partExtra.set(key, extra.get(key));
          }
        }
      }
      out.add(KvTransferConfig.parse(Json.write(part)));
    }
    return out;
  }

  /** The connectors this one combines, in configured order. */
  public List<KvConnector> parts() {
    return parts;
  }

  @Override
  public void registerKvCache(KvCacheView cache) {
    parts.forEach(p -> p.registerKvCache(cache));
  }

  @Override
  public Match matchedTokens(Request request, int numComputedTokens) {
    List<Share> plan = new ArrayList<>();
    Set<Integer> used = new HashSet<>();
    int from = numComputedTokens;
    while (used.size() < parts.size()) {
      int best = -1;
      Match bestMatch = Match.NONE;
      for (int i = 0; i < parts.size(); i++) {
        if (used.contains(i)) {
          continue;
        }
        Match m = parts.get(i).matchedTokens(request, from);
        if (m.tokens() < 0) {
          return Match.ASK_LATER;
        }
        if (m.tokens() <= 0) {
          continue;
        }
        // A cache first (its blocks are in host memory or one loopback read away, a peer's pull
        // crosses the network and holds the peer's blocks), then the longest match.
        boolean better =
            best < 0
                || isCache(i) && !isCache(best)
                || isCache(i) == isCache(best) && m.tokens() > bestMatch.tokens();
        if (better) {
          best = i;
          bestMatch = m;
        }
      }
      if (best < 0) {
        break;
      }
      plan.add(new Share(best, bestMatch.tokens(), bestMatch.async()));
      used.add(best);
      from += bestMatch.tokens();
    }
    // Each part remembers the position of the last question; ask again where it loads from.
    int at = numComputedTokens;
    for (Share s : plan) {
      Match again = parts.get(s.part()).matchedTokens(request, at);
      if (again.tokens() != s.tokens()) {
        return Match.ASK_LATER; // the part's answer changed meanwhile: plan again next step
      }
      at += s.tokens();
    }
    for (int i = 0; i < parts.size(); i++) {
      if (!used.contains(i)) {
        parts.get(i).matchedTokens(request, at);
      }
    }
    plans.put(request.requestId(), plan);
    boolean async = plan.stream().anyMatch(Share::async);
    int total = at - numComputedTokens;
    return total > 0 ? new Match(total, async) : Match.NONE;
  }

  private boolean isCache(int part) {
    return parts.get(part).cacheStats().isPresent();
  }

  @Override
  public void afterAllocate(Request request, int[] blockIds, int numExternalTokens) {
    String id = request.requestId();
    List<Share> plan = plans.remove(id);
    if (plan == null) {
      plan = List.of();
    }
    int left = Math.max(0, numExternalTokens);
    Set<Integer> planned = new HashSet<>();
    Set<Integer> waiting = new HashSet<>();
    for (Share s : plan) {
      int tokens = Math.min(s.tokens(), left);
      left -= tokens;
      planned.add(s.part());
      parts.get(s.part()).afterAllocate(request, blockIds, tokens);
      if (s.async() && tokens > 0) {
        waiting.add(s.part());
      }
    }
    for (int i = 0; i < parts.size(); i++) {
      if (!planned.contains(i)) {
        parts.get(i).afterAllocate(request, blockIds, 0);
      }
    }
    if (!waiting.isEmpty()) {
      loading.put(id, waiting);
    }
  }

  @Override
  public void beforeForward(List<StepSeq> step) {
    parts.forEach(p -> p.beforeForward(step));
  }

  @Override
  public void afterForward(List<StepSeq> step) {
    parts.forEach(p -> p.afterForward(step));
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds) {
    return requestFinished(request, blockIds, true);
  }

  @Override
  public Finish requestFinished(Request request, int[] blockIds, boolean completed) {
    String id = request.requestId();
    plans.remove(id);
    ObjectNode merged = null;
    Set<Integer> keeping = new HashSet<>();
    for (int i = 0; i < parts.size(); i++) {
      Finish f = parts.get(i).requestFinished(request, blockIds, completed);
      if (f.delayFree()) {
        keeping.add(i);
      }
      if (f.kvTransferParams() instanceof ObjectNode params) {
        if (merged == null) {
          merged = params.deepCopy();
        } else {
          // The first part that says something about a key is the one heard.
          for (var it = params.properties().iterator(); it.hasNext(); ) {
            var field = it.next();
            if (!merged.has(field.getKey()) || merged.get(field.getKey()).isNull()) {
              merged.set(field.getKey(), field.getValue());
            }
          }
        }
      }
    }
    if (!keeping.isEmpty()) {
      sending.put(id, keeping);
    }
    return new Finish(!keeping.isEmpty(), merged);
  }

  /** Every part's device-loaded blocks of the request (each part loaded its own share). */
  @Override
  public int[] takeDeviceLoadedBlocks(String requestId) {
    int[] all = new int[0];
    for (KvConnector part : parts) {
      int[] more = part.takeDeviceLoadedBlocks(requestId);
      if (more.length > 0) {
        int[] merged = java.util.Arrays.copyOf(all, all.length + more.length);
        System.arraycopy(more, 0, merged, all.length, more.length);
        all = merged;
      }
    }
    return all;
  }

  @Override
  public Finished pollFinished() {
    Set<String> doneSending = new HashSet<>();
    Set<String> doneRecving = new HashSet<>();
    Set<String> failedRecving = new HashSet<>();
    for (int i = 0; i < parts.size(); i++) {
      KvConnector part = parts.get(i);
      Finished f = part.pollFinished();
      for (LoadFailure failure : part.loadFailures()) {
        failureDetail.putIfAbsent(failure.requestId(), failure);
      }
      for (String id : f.doneSending()) {
        if (settle(sending, id, i)) {
          doneSending.add(id);
        }
      }
      for (String id : f.failedRecving()) {
        loadFailed.add(id);
        if (settle(loading, id, i)) {
          failedRecving.add(id);
        }
      }
      for (String id : f.doneRecving()) {
        if (settle(loading, id, i)) {
          (loadFailed.contains(id) ? failedRecving : doneRecving).add(id);
        }
      }
    }
    for (String id : failedRecving) {
      loadFailed.remove(id);
      LoadFailure detail = failureDetail.remove(id);
      if (detail != null) {
        reportedFailures.add(detail);
      }
    }
    for (String id : doneRecving) {
      failureDetail.remove(id);
    }
    if (doneSending.isEmpty() && doneRecving.isEmpty() && failedRecving.isEmpty()) {
      return Finished.NOTHING;
    }
    return new Finished(doneSending, doneRecving, failedRecving);
  }

  /** Part {@code part} is done with {@code id}; true once no part is left (or none was known). */
  private static boolean settle(Map<String, Set<Integer>> pending, String id, int part) {
    Set<Integer> left = pending.get(id);
    if (left == null) {
      return true;
    }
    left.remove(part);
    if (left.isEmpty()) {
      pending.remove(id);
      return true;
    }
    return false;
  }

  @Override
  public List<LoadFailure> loadFailures() {
    List<LoadFailure> out = List.copyOf(reportedFailures);
    reportedFailures.clear();
    return out;
  }

  /**
   * Recompute when every part would; otherwise the configured policy (a P2P part defaults to fail,
   * so set {@code "kv_load_failure_policy": "recompute"} to let a cache miss never fail a request).
   */
  @Override
  public LoadFailurePolicy loadFailurePolicy() {
    boolean allRecompute =
        parts.stream().allMatch(p -> p.loadFailurePolicy() == LoadFailurePolicy.RECOMPUTE);
    return allRecompute ? LoadFailurePolicy.RECOMPUTE : config.loadFailurePolicy();
  }

  @Override
  public TransferStats transferStats() {
    long bytes = 0;
    long ok = 0;
    long failed = 0;
    double seconds = 0;
    int leases = 0;
    for (KvConnector p : parts) {
      TransferStats s = p.transferStats();
      bytes += s.bytesLoaded();
      ok += s.loadsOk();
      failed += s.loadsFailed();
      seconds += s.loadSeconds();
      leases += s.liveLeases();
    }
    return new TransferStats(bytes, ok, failed, seconds, leases);
  }

  /** The first part's cache counters (a MultiConnector has at most one cache in practice). */
  @Override
  public java.util.Optional<KvCacheStats> cacheStats() {
    return parts.stream()
        .map(KvConnector::cacheStats)
        .flatMap(java.util.Optional::stream)
        .findFirst();
  }

  @Override
  public void waitForLayerLoad(int layer) {
    parts.forEach(p -> p.waitForLayerLoad(layer));
  }

  @Override
  public void saveKvLayer(int layer) {
    parts.forEach(p -> p.saveKvLayer(layer));
  }

  @Override
  public void waitForSave() {
    parts.forEach(KvConnector::waitForSave);
  }

  @Override
  public void close() {
    parts.forEach(KvConnector::close);
  }
}
