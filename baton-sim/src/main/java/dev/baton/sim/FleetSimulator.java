package dev.baton.sim;

import dev.baton.core.Role;
import dev.baton.gateway.WorkerSpec;
import dev.baton.gateway.policy.PairChoice;
import dev.baton.gateway.policy.PairPolicy;
import dev.baton.gateway.policy.Policies;
import dev.baton.gateway.policy.RouteRequest;
import dev.baton.gateway.policy.RoutingPolicy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * A discrete-event simulation of one fleet serving one workload. Time advances from event to event
 * (arrivals, finished prefills, finished KV hops, finished engine steps), never in fixed ticks, so
 * a fleet of 1,000 workers costs only its events.
 *
 * <p>What a worker does mirrors Baton's engine: a prefill worker prefills one prompt at a time in
 * arrival order; a decode worker runs continuous batching (every running sequence gains one token
 * per step, newcomers join at the next step, at most {@code maxBatch}); a colocated worker's step
 * holds its decode batch plus one chunk of at most {@code chunkTokens} of the oldest waiting prompt
 * (chunked prefill), which is how a long prompt stretches the decoding requests' gaps.
 *
 * <p>Routing is the gateway's own: each pool (prefill, decode, colocated) holds an instance of the
 * named {@link RoutingPolicy} from baton-gateway, choosing among gateway {@link
 * dev.baton.gateway.Worker} records whose in-flight counts the simulation keeps (a request counts
 * on a worker from its assignment to the end of that leg, as the gateway counts its legs) and whose
 * scraped load and KV usage it feeds as the gateway's scrapes would. A request's prefill and decode
 * workers are picked together when it arrives, by the gateway's own {@link PairChoice} (a pair
 * policy such as {@code pd} scores both; any other picks the prefill worker, then the decode
 * worker, in replica mode from the prefill worker's group, {@link Fleet#groups()} > 1); the
 * prefilled request goes to that decode worker after the KV hop, and its first token leaves from
 * there. Policies that route by prompt content alone (prefix-cache) are refused: the simulated
 * workload has lengths, not prompts; in {@code pd} the prefix term is the same for every worker.
 *
 * <p>With a disaggregation threshold, a prompt shorter than it skips the prefill worker and is
 * prefilled by the pair's decode worker inside its decode steps, chunk by chunk, as the gateway's
 * conditional disaggregation sends it there as a plain colocated request.
 */
public final class FleetSimulator {

  private static final int ARRIVAL = 0;
  private static final int PREFILL_DONE = 1;
  private static final int HOP_DONE = 2;
  private static final int STEP_DONE = 3;

  /**
   * {@code version}: a finishing event of a worker whose speed changed since it was scheduled is
   * stale (the worker holds a newer one); -1 for events no speed change moves.
   */
  private record Event(double time, long order, int kind, int worker, int request, long version)
      implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int c = Double.compare(time, o.time);
      return c != 0 ? c : Long.compare(order, o.order);
    }
  }

  /** One worker's queues, batch and the step in flight, and its record for the routing policy. */
  private static final class Worker {
    /** Prompts this worker prefills itself (colocated, or short prompts on a decode worker). */
    final ArrayDeque<Integer> waiting = new ArrayDeque<>();

    /** Prefilled elsewhere, KV arrived, waiting for a place in the batch. */
    final ArrayDeque<Integer> ready = new ArrayDeque<>();

    /** Prefilled elsewhere, waiting for room in this worker's KV before the pull starts. */
    final ArrayDeque<Integer> awaitingKv = new ArrayDeque<>();

    /** This worker's index in its pool (the worker of its events). */
    final int index;

    final int[] running;
    final dev.baton.gateway.Worker routed;
    int runningCount;
    long contextTokens;
    boolean busy;
    int stepBatch;
    int chunkRequest = -1;
    int chunk;

    /** Tokens of KV held: prompts prefilled or arriving, and every token generated since. */
    long kvTokens;

    // The work in flight, tracked only when workers interfere (StepModel#interferes): its time
    // left as if the worker computed alone, the slowdown it runs at since lastUpdate, and the
    // version its finishing event carries.
    boolean prefillWork;
    double aloneMsLeft;
    double slowdown = 1;
    double lastUpdate;
    long version;
    int doneKind;
    int doneIndex;
    int doneRequest;

    // Where this worker reads the model's decode jitter series next (alone, beside prefills):
    // consecutive steps take consecutive values, so the measured clusters of slow steps stay
    // together; a worker that starts from idle starts at a random place.
    final int[] jitterAt = {-1, -1};

    Worker(int index, int maxBatch, dev.baton.gateway.Worker routed) {
      this.index = index;
      running = new int[maxBatch];
      this.routed = routed;
    }
  }

  /**
   * One pool's gateway worker records and its policy instance; a record's slot is its worker's
   * index in the pool's array.
   */
  private record Pool(List<dev.baton.gateway.Worker> routed, RoutingPolicy policy) {
    /** The chosen worker's index. */
    int choose() {
      return policy.choose(routed, noContent()).slot();
    }
  }

  /** What the policies see of a simulated request: no prompt content. */
  private static RouteRequest noContent() {
    return RouteRequest.of(null, NO_BLOCKS, null);
  }

  private static final long[] NO_BLOCKS = new long[0];

  /** The gateway's default policy for a pool. */
  public static final String DEFAULT_POLICY = "least-request";

  /**
   * How requests are routed.
   *
   * @param policy the gateway routing policy every pool uses (a name from {@link Policies#names()},
   *     one instance per pool and leg as the gateway holds them)
   * @param disaggregationThreshold prompts shorter than this many tokens go to a decode worker as
   *     plain colocated requests (the gateway's {@code disaggregation_threshold}; 0: never)
   * @param seed seeds the policies' random choices (ties, random, power-of-two)
   * @param scrapeIntervalMs how often the gateway scrapes each worker's running + waiting requests
   *     (its {@code scrape_interval_ms}; 0: never). A policy's load of a worker is the larger of
   *     the gateway's own in-flight count and the last scrape, so a worker that finished its
   *     request since the last scrape still looks busy: two workers that both look busy tie, and a
   *     tie broken at random sends a request to the one that really is (on the 2-core validation
   *     run, colocated requests met a prefill on their own worker that way)
   */
  public record Routing(
      String policy, int disaggregationThreshold, long seed, double scrapeIntervalMs) {

    /** Routing on the gateway's own in-flight counts only (no scraped load). */
    public Routing(String policy, int disaggregationThreshold, long seed) {
      this(policy, disaggregationThreshold, seed, 0);
    }

    public Routing {
      if (disaggregationThreshold < 0) {
        throw new IllegalArgumentException("the disaggregation threshold must be >= 0");
      }
      if (!(scrapeIntervalMs >= 0) || Double.isInfinite(scrapeIntervalMs)) {
        throw new IllegalArgumentException("the scrape interval must be finite and >= 0");
      }
    }
  }

  private final Fleet fleet;
  private final StepModel model;
  private final Routing routing;
  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private long order;

  private final double[] arrival;
  private final int[] prompt;
  private final int[] output;
  private final double[] prefillStart;
  private final double[] firstToken;
  private final double[] finish;
  private final int[] generated;
  private final int[] prefilled;
  private final int[] prefillOf;
  private final int[] decodeOf;

  private final Pool prefillPool;
  private final Pool decodePool;
  private final Pool colocatedPool;
  private final Worker[] prefillWorkers;
  private final Worker[] decodeWorkers;
  private final Worker[] colocatedWorkers;

  /** Every worker, for the interference model: whoever computes slows the others. */
  private final List<Worker> everyWorker = new ArrayList<>();

  private int prefilling;
  private int decoding;

  /** Where decode jitter starts, and which series a step beside some prefilling workers reads. */
  private final SplittableRandom jitterRandom;

  public FleetSimulator(Fleet fleet, StepModel model, SimWorkload workload) {
    this(fleet, model, workload, DEFAULT_POLICY);
  }

  public FleetSimulator(Fleet fleet, StepModel model, SimWorkload workload, String policy) {
    this(fleet, model, workload.trace(), new Routing(policy, 0, workload.seed()));
  }

  public FleetSimulator(Fleet fleet, StepModel model, SimTrace trace, Routing routing) {
    this.fleet = fleet;
    this.model = model;
    this.routing = routing;
    arrival = trace.arrivalMs().clone();
    prompt = trace.prompt().clone();
    output = trace.output().clone();
    int n = arrival.length;
    prefillStart = new double[n];
    firstToken = new double[n];
    finish = new double[n];
    generated = new int[n];
    prefilled = new int[n];
    prefillOf = new int[n];
    decodeOf = new int[n];
    SplittableRandom seeds = new SplittableRandom(routing.seed() ^ 0x5eed);
    jitterRandom = new SplittableRandom(routing.seed() ^ 0x717e5);
    prefillWorkers = new Worker[fleet.prefill()];
    decodeWorkers = new Worker[fleet.decode()];
    colocatedWorkers = new Worker[fleet.colocated()];
    prefillPool = pool(prefillWorkers, fleet.groups(), Role.PREFILL, seeds);
    decodePool = pool(decodeWorkers, fleet.groups(), Role.DECODE, seeds);
    colocatedPool = pool(colocatedWorkers, 1, Role.BOTH, seeds);
    everyWorker.addAll(List.of(prefillWorkers));
    everyWorker.addAll(List.of(decodeWorkers));
    everyWorker.addAll(List.of(colocatedWorkers));
  }

  /**
   * A pool of {@code all}'s workers, which it fills; with {@code groups} > 1 they carry the labels
   * {@code g0}, {@code g1}, ... of that many equal groups in order (replica mode).
   */
  private Pool pool(Worker[] all, int groups, Role role, SplittableRandom seeds) {
    RoutingPolicy policy =
        Policies.create(
            routing.policy(),
            // No prefix index: the simulated workload has no prompt content (refused below).
            new Policies.Context(null, new SplittableRandom(seeds.nextLong())));
    if (policy.usesPrefixIndex() && !(policy instanceof PairPolicy)) {
      throw new IllegalArgumentException(
          "policy '"
              + routing.policy()
              + "' routes by prompt content, which the simulated workload does not have");
    }
    int perGroup = Math.max(1, all.length / groups);
    List<dev.baton.gateway.Worker> routed = new ArrayList<>(all.length);
    for (int k = 0; k < all.length; k++) {
      // A distinct address per worker; nothing is ever sent to it.
      dev.baton.gateway.Worker gw =
          dev.baton.gateway.Worker.forSimulation(
              new WorkerSpec(
                  "http://10." + (k >> 16) + "." + ((k >> 8) & 255) + "." + (k & 255) + ":8000",
                  role,
                  groups > 1 ? "g" + k / perGroup : null,
                  8998));
      gw.slot(k);
      all[k] = new Worker(k, model.maxBatch(), gw);
      routed.add(gw);
    }
    return new Pool(routed, policy);
  }

  /** Runs the whole workload to the last finished request. */
  public SimResult run() {
    // Arrivals are fed one at a time so the queue holds O(workers) events, not O(requests).
    schedule(arrival[0], ARRIVAL, -1, 0);
    double interval = routing.scrapeIntervalMs();
    // The gateway's scrape clock runs on its own: its phase against the first arrival is random.
    double nextScrape =
        interval > 0 ? new SplittableRandom(routing.seed() ^ 0x5c4a9e).nextDouble() * interval : 0;
    while (!events.isEmpty()) {
      Event e = events.poll();
      if (e.version() >= 0 && e.version() != doneWorker(e).version) {
        continue; // the worker's speed changed: a later event of the same work replaced this one
      }
      if (interval > 0 && e.time() >= nextScrape) {
        // Nothing changed between the last event and the scrape: every worker's count now is
        // what the scrape saw (and what later scrapes see, up to this event's time).
        scrapeAll();
        nextScrape += interval * (Math.floor((e.time() - nextScrape) / interval) + 1);
      }
      switch (e.kind()) {
        case ARRIVAL -> arrive(e.time(), e.request());
        case PREFILL_DONE -> prefillDone(e.time(), e.worker(), e.request());
        case HOP_DONE -> hopDone(e.time(), e.worker(), e.request());
        default -> stepDone(e.time(), e.worker());
      }
    }
    return new SimResult(arrival, prompt, output, prefillStart, firstToken, finish);
  }

  /**
   * Every worker's load and KV usage as the gateway's scrape reads them: the requests it holds,
   * both legs (what its engine counts as running + waiting is what the gateway counts in flight on
   * it), and its KV tokens over the model's capacity (0 where the model has none).
   */
  private void scrapeAll() {
    long capacity = model.kvCapacityTokens();
    for (Worker w : everyWorker) {
      double usage = capacity > 0 ? Math.min(1, (double) w.kvTokens / capacity) : 0;
      w.routed.scraped(w.routed.inFlight(), 0, usage);
    }
  }

  private void schedule(double time, int kind, int worker, int request) {
    events.add(new Event(time, order++, kind, worker, request, -1));
  }

  /** The worker a finishing event (prefill or step) belongs to. */
  private Worker doneWorker(Event e) {
    return e.kind() == PREFILL_DONE ? prefillWorkers[e.worker()] : stepWorker(e.worker());
  }

  /**
   * Starts {@code aloneMs} of work on {@code w} (its {@code kind} event fires when it is done).
   * With interference, the work runs slower while other workers compute, and is re-timed whenever
   * one starts or stops.
   */
  private void work(
      double t, Worker w, int kind, int index, int request, double aloneMs, boolean prefill) {
    if (!model.interferes()) {
      w.busy = true;
      schedule(t + aloneMs, kind, index, request);
      return;
    }
    // Others are re-timed when this worker starts computing or turns to the other kind of work.
    boolean changed = !w.busy || w.prefillWork != prefill;
    if (w.busy) {
      count(w, -1);
    }
    w.busy = true;
    w.prefillWork = prefill;
    count(w, 1);
    w.aloneMsLeft = aloneMs;
    w.doneKind = kind;
    w.doneIndex = index;
    w.doneRequest = request;
    if (changed) {
      retimeOthers(t, w);
    }
    w.lastUpdate = t;
    retime(t, w);
  }

  /** {@code w} has nothing to do. */
  private void idle(double t, Worker w) {
    if (w.busy && model.interferes()) {
      w.busy = false;
      count(w, -1);
      retimeOthers(t, w);
    }
    w.busy = false;
  }

  private void count(Worker w, int delta) {
    if (w.prefillWork) {
      prefilling += delta;
    } else {
      decoding += delta;
    }
  }

  /** The others' work so far at their old speed, and the rest at the new one. */
  private void retimeOthers(double t, Worker changed) {
    for (Worker o : everyWorker) {
      if (o != changed && o.busy) {
        o.aloneMsLeft = Math.max(0, o.aloneMsLeft - (t - o.lastUpdate) / o.slowdown);
        o.lastUpdate = t;
        retime(t, o);
      }
    }
  }

  /** Schedules {@code w}'s finishing event at the slowdown the others computing now cause. */
  private void retime(double t, Worker w) {
    w.slowdown = slowdown(w, w.prefillWork);
    w.version++;
    events.add(
        new Event(
            t + w.aloneMsLeft * w.slowdown,
            order++,
            w.doneKind,
            w.doneIndex,
            w.doneRequest,
            w.version));
  }

  /** How many times as long {@code w}'s work of that kind takes beside what the others do now. */
  private double slowdown(Worker w, boolean prefill) {
    if (!model.interferes()) {
      return 1;
    }
    double others = Math.max(1, everyWorker.size() - 1);
    return model.slowdown(
        prefill, otherPrefillingShare(w), (decoding - (w.busy && !w.prefillWork ? 1 : 0)) / others);
  }

  /** The share of the fleet's other workers prefilling now (0 unless workers interfere). */
  private double otherPrefillingShare(Worker w) {
    double others = Math.max(1, everyWorker.size() - 1);
    return (prefilling - (w.busy && w.prefillWork ? 1 : 0)) / others;
  }

  /**
   * The next value of the decode jitter series for a decode step of {@code w}: the series measured
   * beside prefills with the chance that another worker prefills now, else the one measured alone.
   */
  private double jitter(Worker w) {
    double share = otherPrefillingShare(w);
    boolean beside =
        model.decodeJitterBesidePrefillMs().length > 0
            && share > 0
            && (share >= 1 || jitterRandom.nextDouble() < share);
    double[] series = beside ? model.decodeJitterBesidePrefillMs() : model.decodeJitterMs();
    if (series.length == 0) {
      return 0;
    }
    int k = beside ? 1 : 0;
    if (!w.busy || w.jitterAt[k] < 0) {
      w.jitterAt[k] = jitterRandom.nextInt(series.length);
    }
    double value = series[w.jitterAt[k]];
    w.jitterAt[k] = (w.jitterAt[k] + 1) % series.length;
    return value;
  }

  private void arrive(double t, int r) {
    if (r + 1 < arrival.length) {
      schedule(arrival[r + 1], ARRIVAL, -1, r + 1);
    }
    if (!fleet.disaggregated()) {
      int c = colocatedPool.choose();
      prefillHere(t, c, colocatedWorkers[c], r);
      return;
    }
    PairPolicy.Pair pair =
        PairChoice.choose(
            prefillPool.policy(),
            decodePool.policy(),
            prefillPool.routed(),
            decodePool.routed(),
            fleet.groups() > 1,
            noContent());
    int d = pair.decode().slot();
    if (prompt[r] < routing.disaggregationThreshold()) {
      prefillHere(t, d, decodeWorkers[d], r);
      return;
    }
    int p = pair.prefill().slot();
    prefillOf[r] = p;
    decodeOf[r] = d;
    Worker w = prefillWorkers[p];
    w.routed.begin(true);
    w.waiting.add(r);
    if (!w.busy) {
      startPrefill(t, p);
    }
  }

  /** Queues {@code r} for chunked prefill inside worker {@code index}'s steps. */
  private void prefillHere(double t, int index, Worker w, int r) {
    w.routed.begin(false);
    w.waiting.add(r);
    if (!w.busy) {
      startStep(t, index);
    }
  }

  private void startPrefill(double t, int p) {
    Worker w = prefillWorkers[p];
    Integer r = w.waiting.poll();
    if (r == null) {
      idle(t, w);
      return;
    }
    prefillStart[r] = t;
    w.kvTokens += prompt[r];
    // Busy here means the worker has just finished the prefill before this one.
    work(t, w, PREFILL_DONE, p, r, model.prefillMs(prompt[r], w.busy), true);
  }

  private void prefillDone(double t, int p, int r) {
    prefillWorkers[p].routed.end(true);
    int d = decodeOf[r];
    Worker w = decodeWorkers[d];
    w.routed.begin(false);
    if (w.awaitingKv.isEmpty() && fits(w, prompt[r])) {
      pull(t, w, r);
    } else {
      w.awaitingKv.add(r); // the prefill worker keeps the KV until there is room for it here
    }
    startPrefill(t, p);
  }

  /** Takes blocks on decode worker {@code w} for {@code r}'s KV and starts pulling it. */
  private void pull(double t, Worker w, int r) {
    w.kvTokens += prompt[r];
    schedule(t + model.kvHopMs(prompt[r]), HOP_DONE, w.index, r);
  }

  /**
   * Whether {@code w} has KV room for {@code tokens} more (the engine admits a request only with
   * blocks for its prompt). Always true without a capacity, and on a worker holding nothing, so a
   * prompt larger than the capacity still runs alone.
   */
  private boolean fits(Worker w, long tokens) {
    long capacity = model.kvCapacityTokens();
    return capacity == 0 || w.kvTokens == 0 || w.kvTokens + tokens <= capacity;
  }

  private void hopDone(double t, int d, int r) {
    Worker w = decodeWorkers[d];
    prefillWorkers[prefillOf[r]].kvTokens -= prompt[r]; // pulled: the prefill worker frees it
    firstToken[r] = t;
    generated[r] = 1;
    if (generated[r] >= output[r]) {
      finished(t, r, w);
      if (!w.busy) {
        startStep(t, d); // the room it freed may admit a waiting prompt
      }
      return;
    }
    if (w.runningCount < w.running.length) {
      join(w, r);
    } else {
      w.ready.add(r);
    }
    if (!w.busy) {
      startStep(t, d);
    }
  }

  private void join(Worker w, int r) {
    w.running[w.runningCount++] = r;
    w.contextTokens += prompt[r] + generated[r];
  }

  private void finished(double t, int r, Worker w) {
    finish[r] = t;
    w.routed.end(false);
    // Its prompt and the tokens generated after the first (which came with the prompt's KV).
    w.kvTokens -= prompt[r] + generated[r] - 1;
    while (!w.awaitingKv.isEmpty() && fits(w, prompt[w.awaitingKv.peek()])) {
      pull(t, w, w.awaitingKv.poll());
    }
  }

  /** Decode workers in a P/D fleet, colocated ones otherwise, in STEP_DONE events. */
  private Worker stepWorker(int index) {
    return fleet.disaggregated() ? decodeWorkers[index] : colocatedWorkers[index];
  }

  private void startStep(double t, int index) {
    Worker w = stepWorker(index);
    double ms = w.runningCount > 0 ? model.decodeStepMs(w.runningCount, w.contextTokens) : 0;
    w.stepBatch = w.runningCount;
    w.chunkRequest = -1;
    if (!w.waiting.isEmpty()
        && w.runningCount < w.running.length
        && (prefilled[w.waiting.peek()] > 0 || fits(w, prompt[w.waiting.peek()]))) {
      int r = w.waiting.peek();
      w.chunk = Math.min(model.chunkTokens(), prompt[r] - prefilled[r]);
      w.chunkRequest = r;
      if (prefilled[r] == 0) {
        prefillStart[r] = t;
        ms += model.prefillBaseMs();
      }
      ms += model.prefillPerTokenMs() * w.chunk;
    }
    if (w.stepBatch == 0 && w.chunkRequest < 0) {
      idle(t, w);
      return;
    }
    if (w.chunkRequest < 0 && model.jitters()) {
      // Jitter is wall time as measured, so it is not stretched again by the slowdown the work
      // runs at; a fast step (the rest of a burst a stalled stream delivers) never goes below 0.
      ms = Math.max(0, ms + jitter(w) / slowdown(w, false));
    }
    // A step with a prefill chunk counts as prefill work: the chunk is most of its time.
    work(t, w, STEP_DONE, index, -1, ms, w.chunkRequest >= 0);
  }

  private void stepDone(double t, int index) {
    Worker w = stepWorker(index);
    int kept = 0;
    for (int i = 0; i < w.runningCount; i++) {
      int r = w.running[i];
      if (i < w.stepBatch) {
        generated[r]++;
        w.contextTokens++;
        w.kvTokens++;
        if (generated[r] >= output[r]) {
          w.contextTokens -= prompt[r] + generated[r];
          finished(t, r, w);
          continue;
        }
      }
      w.running[kept++] = r;
    }
    w.runningCount = kept;
    if (w.chunkRequest >= 0) {
      int r = w.chunkRequest;
      prefilled[r] += w.chunk;
      w.kvTokens += w.chunk;
      if (prefilled[r] >= prompt[r]) {
        w.waiting.poll();
        firstToken[r] = t;
        generated[r] = 1;
        if (output[r] <= 1) {
          finished(t, r, w);
        } else {
          join(w, r);
        }
      }
    }
    while (w.runningCount < w.running.length && !w.ready.isEmpty()) {
      join(w, w.ready.poll());
    }
    startStep(t, index);
  }
}
