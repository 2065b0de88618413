package dev.baton.gateway;

import dev.baton.gateway.GatewayConfig.Mode;
import dev.baton.gateway.GatewayConfig.Pool;
import dev.baton.gateway.policy.PairChoice;
import dev.baton.gateway.policy.PairPolicy;
import dev.baton.gateway.policy.PrefixIndex;
import dev.baton.gateway.policy.RouteRequest;
import dev.baton.gateway.policy.RoutingPolicy;
import dev.baton.gateway.protocol.PdProtocol;
import dev.baton.gateway.protocol.PdProtocols;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A pool at run time: its workers (replaced as a whole on reload or admin changes, so requests in
 * flight keep the worker objects they hold), its per-leg policy instances, its prefix index and its
 * admission control. {@link #select} is where a request gets its pair.
 */
final class PoolRuntime {

  /** The chosen workers: {@code prefill} is null for a colocated request. */
  record Selection(Worker prefill, Worker decode) {
    boolean colocated() {
      return prefill == null;
    }
  }

  private final Pool config;
  private final PdProtocol protocol;
  private final RoutingPolicy prefillPolicy;
  private final RoutingPolicy decodePolicy;
  private final PrefixIndex index;
  private final Admission admission;
  private final SessionPins pins;
  private volatile List<Worker> workers;

  PoolRuntime(
      Pool config,
      RoutingPolicy prefillPolicy,
      RoutingPolicy decodePolicy,
      PrefixIndex index,
      List<Worker> workers) {
    this.config = config;
    this.protocol = PdProtocols.create(config.mode().wireName());
    this.prefillPolicy = prefillPolicy;
    this.decodePolicy = decodePolicy;
    this.index = index;
    this.admission =
        new Admission(config.maxInFlight(), config.queueSize(), config.queueTimeoutMs());
    this.pins = config.sessionAffinity() ? new SessionPins(100_000) : null;
    this.workers = List.of();
    setWorkers(workers);
  }

  Pool config() {
    return config;
  }

  String name() {
    return config.name();
  }

  Mode mode() {
    return config.mode();
  }

  /** How this pool runs a request's legs. */
  PdProtocol protocol() {
    return protocol;
  }

  Admission admission() {
    return admission;
  }

  PrefixIndex index() {
    return index;
  }

  List<Worker> workers() {
    return workers;
  }

  String policyLabel() {
    return prefillPolicy.name().equals(decodePolicy.name())
        ? decodePolicy.name()
        : prefillPolicy.name() + "/" + decodePolicy.name();
  }

  /** Whether requests need their prompts hashed (a policy or conditional P/D reads the index). */
  boolean hashesPrompts() {
    return prefillPolicy.usesPrefixIndex()
        || decodePolicy.usesPrefixIndex()
        || config.disaggregationThreshold() > 0;
  }

  /**
   * Replaces the worker list. Workers keep their prefix-index slot; new ones get a free slot and
   * removed ones give theirs back (their index bits are cleared).
   */
  synchronized void setWorkers(List<Worker> next) {
    long used = 0;
    for (Worker w : next) {
      if (w.slot() >= 0) {
        used |= 1L << w.slot();
      }
    }
    for (Worker old : workers) {
      if (old.slot() >= 0 && !next.contains(old)) {
        index.clearSlot(old.slot());
        old.slot(-1);
      }
    }
    for (Worker w : next) {
      if (w.slot() < 0 && used != -1L) {
        int free = Long.numberOfTrailingZeros(~used);
        w.slot(free);
        used |= 1L << free;
      }
    }
    workers = List.copyOf(next);
  }

  /** Worker with this url, or null. */
  Worker find(String url) {
    for (Worker w : workers) {
      if (w.url().equals(url)) {
        return w;
      }
    }
    return null;
  }

  /**
   * Chooses the workers for one attempt, skipping {@code excluded} ones (they failed this request
   * already). Returns null when no worker can take it.
   */
  Selection select(RouteRequest request, Set<Worker> excluded) {
    if (!hashesPrompts()) {
      return selectUnlocked(request, excluded);
    }
    // Choosing by the prefix index and recording the choice in it are one step: otherwise two
    // requests of a burst that arrive together both miss the index and land on different workers
    // (seen once the proxy path got faster). The prompt is hashed before taking the lock.
    request.prompt();
    synchronized (index) {
      return selectUnlocked(request, excluded);
    }
  }

  private Selection selectUnlocked(RouteRequest request, Set<Worker> excluded) {
    List<Worker> prefills = new ArrayList<>();
    List<Worker> decodes = new ArrayList<>();
    for (Worker w : workers) {
      if (!w.available() || excluded.contains(w)) {
        continue;
      }
      if (config.mode() == Mode.COLOCATED) {
        if (w.role().canDecode()) {
          decodes.add(w);
        }
        continue;
      }
      if (w.role().canPrefill()) {
        prefills.add(w);
      }
      if (w.role().canDecode()) {
        decodes.add(w);
      }
    }
    if (decodes.isEmpty()) {
      return null;
    }
    String session = pins == null ? null : request.sessionId();
    SessionPins.Pin pin = session == null ? null : pins.get(session);
    Worker pinnedDecode = pin == null ? null : named(decodes, pin.decode());
    Selection s;
    if (config.mode() == Mode.COLOCATED) {
      s =
          new Selection(
              null, pinnedDecode != null ? pinnedDecode : decodePolicy.choose(decodes, request));
    } else if (prefills.isEmpty() || prefillSaturated(prefills)) {
      // SGLang decode workers cannot compute a prompt on their own: no colocated fallback there.
      s =
          config.mode() == Mode.NIXL
              ? new Selection(
                  null, pinnedDecode != null ? pinnedDecode : decodePolicy.choose(decodes, request))
              : null;
    } else {
      s =
          pinnedDecode != null
              ? pinnedPair(pin, pinnedDecode, prefills, decodes, request)
              : pair(prefills, decodes, request);
      if (s != null
          && config.mode() == Mode.NIXL
          && config.disaggregationThreshold() > 0
          && request.uncachedTokens(s.decode()) < config.disaggregationThreshold()) {
        s = new Selection(null, s.decode());
      }
    }
    if (s != null) {
      chosen(s, request);
      if (session != null) {
        pins.put(session, s);
      }
    }
    return s;
  }

  /**
   * The session's decode worker with its last prefill worker when that one is still a candidate (in
   * replica mode: of the decode worker's group), else with one the prefill policy picks.
   */
  private Selection pinnedPair(
      SessionPins.Pin pin,
      Worker decode,
      List<Worker> prefills,
      List<Worker> decodes,
      RouteRequest request) {
    List<Worker> candidates = new ArrayList<>();
    for (Worker p : prefills) {
      if (decode.group() == null || Objects.equals(p.group(), decode.group())) {
        candidates.add(p);
      }
    }
    if (candidates.isEmpty()) {
      return pair(prefills, decodes, request); // the group lost its prefill workers: move
    }
    Worker prefill = pin.prefill() == null ? null : named(candidates, pin.prefill());
    return new Selection(
        prefill != null ? prefill : prefillPolicy.choose(candidates, request), decode);
  }

  private static Worker named(List<Worker> candidates, String url) {
    for (Worker w : candidates) {
      if (w.url().equals(url)) {
        return w;
      }
    }
    return null;
  }

  /** Sessions pinned now (0 without {@code session_affinity}). */
  int pinnedSessions() {
    return pins == null ? 0 : pins.size();
  }

  private Selection pair(List<Worker> prefills, List<Worker> decodes, RouteRequest request) {
    boolean grouped = false;
    for (Worker w : workers) {
      grouped |= w.group() != null;
    }
    PairPolicy.Pair p =
        PairChoice.choose(prefillPolicy, decodePolicy, prefills, decodes, grouped, request);
    return p == null ? null : new Selection(p.prefill(), p.decode());
  }

  private boolean prefillSaturated(List<Worker> prefills) {
    if (config.prefillSaturation() <= 0 || config.mode() != Mode.NIXL) {
      return false;
    }
    for (Worker w : prefills) {
      if (w.prefillsInFlight() < config.prefillSaturation()) {
        return false;
      }
    }
    return true;
  }

  /** Records the choice in the prefix index at once, so the next request of a burst sees it. */
  private void chosen(Selection s, RouteRequest request) {
    if (hashesPrompts()) {
      long[] keys = request.prompt().blockKeys();
      if (s.prefill() != null) {
        index.record(keys, s.prefill().slot());
      }
      index.record(keys, s.decode().slot());
      request.indexChanged();
    }
    if (s.prefill() != null) {
      s.prefill().breaker().onSelected();
    }
    s.decode().breaker().onSelected();
  }
}
