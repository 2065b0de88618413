package dev.baton.engine.sched;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.KvConnector;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SchedulerTest {

  static final TokenSampler GREEDY =
      (logits, tokens, promptLen, numTokens) -> {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
          if (logits[i] > logits[best]) {
            best = i;
          }
        }
        return best;
      };

  static final Detokenizer LETTERS = t -> Character.toString('a' + t % 26);

  private CheckRunner runner;

  @AfterEach
  void close() {
    if (runner != null) {
      runner.close();
    }
  }

  private Scheduler scheduler(int blocks, int budget, int maxSeqs, boolean prefix) {
    return scheduler(blocks, budget, maxSeqs, prefix, KvConnector.NONE, EngineListener.NONE);
  }

  private Scheduler scheduler(
      int blocks,
      int budget,
      int maxSeqs,
      boolean prefix,
      KvConnector connector,
      EngineListener listener) {
    runner = new CheckRunner(blocks, 4);
    return new Scheduler(
        new SchedulerConfig(4, budget, maxSeqs, 1024, 100_000, prefix, "check", "F32"),
        runner,
        connector,
        listener);
  }

  static int[] prompt(Random rnd, int len) {
    int[] p = new int[len];
    for (int i = 0; i < len; i++) {
      p[i] = 1 + rnd.nextInt(CheckRunner.VOCAB - 1);
    }
    return p;
  }

  static EngineRequest request(String id, int[] prompt, int maxTokens) {
    return new EngineRequest(id, prompt, RequestOptions.of(maxTokens, Set.of()), GREEDY, LETTERS);
  }

  /** The outcome of one request, read from its event queue. */
  record Outcome(List<Integer> tokens, String text, EngineEvent.Finished end, List<float[]> lps) {
    int[] tokenArray() {
      return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  static Outcome outcome(EngineRequest r) {
    List<Integer> tokens = new ArrayList<>();
    List<float[]> lps = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    EngineEvent.Finished end = null;
    for (EngineEvent e : r.events()) {
      switch (e) {
        case EngineEvent.Token t -> {
          tokens.add(t.tokenId());
          text.append(t.text());
          lps.add(t.topLogprobs());
          end = t.end();
        }
        case EngineEvent.Finished f -> end = f;
      }
    }
    return new Outcome(tokens, text.toString(), end, lps);
  }

  static void drain(Scheduler s) {
    for (int i = 0; i < 100_000 && s.hasWork(); i++) {
      s.step();
    }
    assertThat(s.hasWork()).as("scheduler finished its work").isFalse();
  }

  @Test
  void greedyRequestsTakeTheArgmaxFromTheRunnerAndMixedBatchesTheLogits() {
    Scheduler s = scheduler(64, 512, 8, true);
    int[] p = prompt(new Random(5), 9);
    EngineRequest plain =
        new EngineRequest(
            "plain", p, RequestOptions.of(6, Set.of()), TokenSampler.argmax(), LETTERS);
    s.add(plain);
    drain(s);
    assertThat(outcome(plain).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 6));
    assertThat(runner.argmaxCalls).as("every step of a greedy request").isEqualTo(6);
    // A request whose sampler needs the logits (here: a lambda) makes the whole step hand them
    // over.
    int calls = runner.argmaxCalls;
    EngineRequest a =
        new EngineRequest("a", p, RequestOptions.of(6, Set.of()), TokenSampler.argmax(), LETTERS);
    EngineRequest b = request("b", p, 6);
    s.add(a);
    s.add(b);
    drain(s);
    assertThat(outcome(a).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 6));
    assertThat(outcome(b).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 6));
    assertThat(runner.argmaxCalls).isEqualTo(calls);
  }

  @Test
  void singleRequestGeneratesTheReferenceTokens() {
    Scheduler s = scheduler(64, 512, 8, true);
    int[] p = prompt(new Random(1), 10);
    EngineRequest r = request("a", p, 12);
    s.add(r);
    drain(s);
    Outcome o = outcome(r);
    assertThat(o.tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 12));
    assertThat(o.end().reason()).isEqualTo(FinishReason.LENGTH);
    assertThat(o.end().promptTokens()).isEqualTo(10);
    assertThat(o.end().completionTokens()).isEqualTo(12);
    assertThat(o.text()).hasSize(12);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(64);
  }

  /**
   * Many requests at once through a small pool and a small budget: chunked prefill, continuous
   * batching and preemption all happen, and every output still equals the one-at-a-time reference.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void concurrentRequestsUnderPressureMatchTheReference(boolean prefix) {
    List<Integer> preemptions = new ArrayList<>();
    EngineListener count =
        new EngineListener() {
          @Override
          public void onPreemption() {
            preemptions.add(1);
          }
        };
    Scheduler s = scheduler(24, 16, 6, prefix, KvConnector.NONE, count);
    Random rnd = new Random(7);
    int[] shared = prompt(rnd, 9);
    List<EngineRequest> reqs = new ArrayList<>();
    List<int[]> prompts = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      int[] p = prompt(rnd, 1 + rnd.nextInt(30));
      if (i % 3 == 0) {
        System.arraycopy(shared, 0, p, 0, Math.min(shared.length, p.length));
      }
      prompts.add(p);
      EngineRequest r = request("r" + i, p, 1 + rnd.nextInt(25));
      reqs.add(r);
      s.add(r);
      if (i % 4 == 0) {
        s.step(); // new requests join a running batch
      }
    }
    drain(s);
    for (int i = 0; i < reqs.size(); i++) {
      Outcome o = outcome(reqs.get(i));
      int n = reqs.get(i).options().maxTokens();
      assertThat(o.tokenArray())
          .as("request %d", i)
          .containsExactly(CheckRunner.expectedOutput(prompts.get(i), n));
    }
    assertThat(preemptions).isNotEmpty();
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(24);
  }

  @Test
  void sharedPrefixIsReusedAndSkipsPrefillWork() {
    Scheduler s = scheduler(64, 512, 8, true);
    int[] p1 = prompt(new Random(3), 21);
    EngineRequest a = request("a", p1, 2);
    s.add(a);
    drain(s);
    long before = runner.tokensComputed;
    int[] p2 = p1.clone();
    p2[20] = (p2[20] % 50) + 1; // same first 20 tokens = 5 full blocks
    EngineRequest b = request("b", p2, 2);
    s.add(b);
    drain(s);
    assertThat(outcome(b).end().cachedTokens()).isEqualTo(20);
    assertThat(outcome(b).tokenArray()).containsExactly(CheckRunner.expectedOutput(p2, 2));
    assertThat(runner.tokensComputed - before).isEqualTo(1 + 1); // 1 prompt token + 1 decode
    // A different cache salt shares nothing.
    EngineRequest c =
        new EngineRequest(
            "c",
            p1,
            new RequestOptions(2, 0, false, Set.of(), List.of(), Set.of(), -1, "tenant-2", null),
            GREEDY,
            LETTERS);
    s.add(c);
    drain(s);
    assertThat(outcome(c).end().cachedTokens()).isZero();
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(64);
  }

  /**
   * Requests with the same prompt arriving together (the n copies of one request, a burst with one
   * system prompt) compute its full blocks once: the later ones wait for the first to cache them.
   */
  @Test
  void samePromptArrivingTogetherIsComputedOnce() {
    Scheduler s = scheduler(64, 64, 8, true); // budget for all of them in one step
    int[] p = prompt(new Random(5), 42); // 10 full blocks of 4 + 2 tokens
    List<EngineRequest> copies = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      EngineRequest r = request("copy-" + i, p, 3);
      copies.add(r);
      s.add(r);
    }
    EngineRequest other = request("other", prompt(new Random(6), 9), 3);
    s.add(other);
    drain(s);
    for (EngineRequest r : copies) {
      assertThat(outcome(r).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 3));
    }
    assertThat(outcome(copies.get(0)).end().cachedTokens()).isZero();
    assertThat(outcome(copies.get(1)).end().cachedTokens()).isEqualTo(40);
    assertThat(outcome(copies.get(2)).end().cachedTokens()).isEqualTo(40);
    assertThat(outcome(other).tokenArray())
        .containsExactly(CheckRunner.expectedOutput(other.prompt(), 3));
    // 42 prompt tokens once, the 2 uncached ones twice more, 9 for the other prompt, and the
    // decode steps (2 after each request's first token).
    assertThat(runner.tokensComputed).isEqualTo(42 + 2 * 2 + 9 + 4 * 2);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(64);
  }

  @Test
  void fullyCachedPromptStillComputesItsLastToken() {
    Scheduler s = scheduler(64, 512, 8, true);
    int[] p = prompt(new Random(4), 16);
    EngineRequest a = request("a", p, 3);
    s.add(a);
    drain(s);
    EngineRequest b = request("b", p, 3);
    s.add(b);
    drain(s);
    assertThat(outcome(b).end().cachedTokens()).isEqualTo(12);
    assertThat(outcome(b).tokenArray()).containsExactly(outcome(a).tokenArray());
  }

  @Test
  void longPromptIsChunkedWhileDecodesKeepRunning() {
    List<int[]> steps = new ArrayList<>();
    EngineListener l =
        new EngineListener() {
          @Override
          public void onStep(int prefill, int decode, int seqs, double seconds) {
            steps.add(new int[] {prefill, decode});
          }
        };
    Scheduler s = scheduler(128, 8, 8, true, KvConnector.NONE, l);
    int[] shortPrompt = prompt(new Random(5), 3);
    EngineRequest d = request("decoder", shortPrompt, 30);
    s.add(d);
    s.step();
    s.step();
    steps.clear();
    int[] longPrompt = prompt(new Random(6), 60);
    EngineRequest big = request("big", longPrompt, 1);
    s.add(big);
    for (int i = 0; i < 8; i++) {
      s.step();
    }
    // Every step stays in budget and keeps decoding the running request.
    assertThat(steps).allSatisfy(st -> assertThat(st[0] + st[1]).isLessThanOrEqualTo(8));
    assertThat(steps).allSatisfy(st -> assertThat(st[1]).isEqualTo(1));
    assertThat(steps.stream().mapToInt(st -> st[0]).sum()).isEqualTo(56);
    drain(s);
    assertThat(outcome(big).tokenArray())
        .containsExactly(CheckRunner.expectedOutput(longPrompt, 1));
    assertThat(outcome(d).tokenArray())
        .containsExactly(CheckRunner.expectedOutput(shortPrompt, 30));
  }

  @Test
  void maxNumSeqsBoundsTheBatch() {
    Scheduler s = scheduler(128, 512, 2, true);
    for (int i = 0; i < 5; i++) {
      s.add(request("r" + i, prompt(new Random(i), 4), 5));
    }
    s.step();
    assertThat(s.numRunning()).isEqualTo(2);
    assertThat(s.numWaiting()).isEqualTo(3);
    drain(s);
  }

  @Test
  void stopStringCutsTheTextAndIsHeldBackUntilDecided() {
    Scheduler s = scheduler(64, 512, 8, true);
    int[] p = prompt(new Random(8), 5);
    int[] ref = CheckRunner.expectedOutput(p, 20);
    StringBuilder full = new StringBuilder();
    for (int t : ref) {
      full.append(LETTERS.next(t));
    }
    String stop = full.substring(6, 8);
    int cut = full.indexOf(stop);
    EngineRequest r =
        new EngineRequest(
            "s",
            p,
            new RequestOptions(20, 0, false, Set.of(), List.of(stop), Set.of(), -1, null, null),
            GREEDY,
            LETTERS);
    s.add(r);
    drain(s);
    Outcome o = outcome(r);
    assertThat(o.end().reason()).isEqualTo(FinishReason.STOP);
    assertThat(o.end().stopReason()).isEqualTo(stop);
    assertThat(o.text()).isEqualTo(full.substring(0, cut));
    assertThat(o.tokens()).hasSize(cut + stop.length());
  }

  @Test
  void eosStopsUnlessIgnoredOrBeforeMinTokens() {
    int[] p = prompt(new Random(9), 6);
    int[] ref = CheckRunner.expectedOutput(p, 10);
    int eos = ref[3];
    Scheduler s = scheduler(64, 512, 8, true);
    EngineRequest stops =
        new EngineRequest("e", p, RequestOptions.of(10, Set.of(eos)), GREEDY, LETTERS);
    EngineRequest ignores =
        new EngineRequest(
            "i",
            p,
            new RequestOptions(10, 0, true, Set.of(eos), List.of(), Set.of(), -1, null, null),
            GREEDY,
            LETTERS);
    EngineRequest minTokens =
        new EngineRequest(
            "m",
            p,
            new RequestOptions(10, 6, false, Set.of(eos), List.of(), Set.of(), -1, null, null),
            GREEDY,
            LETTERS);
    s.add(stops);
    s.add(ignores);
    s.add(minTokens);
    drain(s);
    int firstEos = 0;
    while (ref[firstEos] != eos) {
      firstEos++;
    }
    assertThat(outcome(stops).tokens()).hasSize(firstEos + 1);
    assertThat(outcome(stops).end().reason()).isEqualTo(FinishReason.STOP);
    assertThat(outcome(ignores).tokens()).hasSize(10);
    Outcome m = outcome(minTokens);
    assertThat(m.tokens().subList(0, Math.min(6, m.tokens().size()))).doesNotContain(eos);
    assertThat(m.tokens().size()).isGreaterThanOrEqualTo(6);
  }

  @Test
  void logprobsAreNormalisedAndSortedTopK() {
    Scheduler s = scheduler(64, 512, 8, true);
    EngineRequest r =
        new EngineRequest(
            "l",
            prompt(new Random(10), 4),
            new RequestOptions(3, 0, false, Set.of(), List.of(), Set.of(), 3, null, null),
            GREEDY,
            LETTERS);
    s.add(r);
    drain(s);
    for (EngineEvent e : r.events()) {
      EngineEvent.Token t = (EngineEvent.Token) e;
      assertThat(t.topIds()).hasSize(3).startsWith(t.tokenId());
      assertThat(t.logprob()).isEqualTo(t.topLogprobs()[0]).isLessThan(0f);
      assertThat(t.topLogprobs()[1]).isLessThan(t.topLogprobs()[0]);
      // peak logit 0, next -0.5: log softmax of a geometric series
      double z = (1 - Math.exp(-0.5 * CheckRunner.VOCAB)) / (1 - Math.exp(-0.5));
      assertThat((double) t.logprob())
          .isCloseTo(-Math.log(z), org.assertj.core.data.Offset.offset(1e-4));
    }
  }

  @Test
  void abortFreesBlocksAtOnce() {
    Scheduler s = scheduler(64, 512, 8, true);
    EngineRequest r = request("x", prompt(new Random(11), 30), 100);
    s.add(r);
    s.step();
    s.step();
    assertThat(s.blocks().numFreeBlocks()).isLessThan(64);
    long computed = runner.tokensComputed;
    s.abort(r);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(64);
    assertThat(s.hasWork()).isFalse();
    s.step();
    assertThat(runner.tokensComputed).isEqualTo(computed);
    assertThat(outcome(r).end().reason()).isEqualTo(FinishReason.ABORT);
  }

  @Test
  void tooLongPromptFailsWithoutTakingBlocks() {
    Scheduler s = scheduler(4, 512, 8, true);
    EngineRequest r = request("long", prompt(new Random(12), 17), 1);
    s.add(r);
    assertThat(outcome(r).end().reason()).isEqualTo(FinishReason.ERROR);
    assertThat(outcome(r).end().error()).contains("more KV blocks");
    assertThat(s.hasWork()).isFalse();
  }

  /**
   * A connector that "loads" the first 8 prompt tokens asynchronously by writing them into the
   * blocks through the cache view, and on finish keeps the blocks until it reports them sent.
   */
  static final class FakeRemote implements KvConnector {
    KvCacheView view;
    final Set<String> loaded = new HashSet<>();
    final Set<String> sent = new HashSet<>();
    final List<String> calls = new ArrayList<>();
    int[] pendingBlocks;
    int[] pendingPrompt;
    String pendingId;
    boolean releaseLoad;
    boolean releaseSend;
    boolean failLoad;
    dev.baton.kv.LoadFailurePolicy policy = dev.baton.kv.LoadFailurePolicy.RECOMPUTE;
    boolean loadSecondBlockOnDevice;
    final List<String> deviceTaken = new ArrayList<>();

    @Override
    public int[] takeDeviceLoadedBlocks(String requestId) {
      deviceTaken.add(requestId);
      return loadSecondBlockOnDevice && pendingBlocks != null
          ? new int[] {pendingBlocks[1]}
          : new int[0];
    }

    @Override
    public dev.baton.kv.LoadFailurePolicy loadFailurePolicy() {
      return policy;
    }

    @Override
    public void registerKvCache(KvCacheView cache) {
      view = cache;
    }

    @Override
    public Match matchedTokens(Request request, int numComputedTokens) {
      calls.add("match " + request.requestId() + " " + numComputedTokens);
      return request.kvTransferParams() != null ? new Match(8, true) : Match.NONE;
    }

    @Override
    public void afterAllocate(Request request, int[] blockIds, int numExternalTokens) {
      calls.add("alloc " + request.requestId() + " " + numExternalTokens);
      if (numExternalTokens > 0) {
        pendingId = request.requestId();
        pendingBlocks = blockIds;
        pendingPrompt = request.promptTokens();
      }
    }

    @Override
    public Finish requestFinished(Request request, int[] blockIds) {
      calls.add("finished " + request.requestId() + " " + blockIds.length);
      if (request.kvTransferParams() != null) {
        sent.add(request.requestId());
      }
      JsonNode params = Json.parse("{\"remote_block_ids\":" + blockIds.length + "}");
      return new Finish(request.kvTransferParams() != null, params);
    }

    @Override
    public Finished pollFinished() {
      Set<String> recv = new HashSet<>();
      if (releaseLoad && pendingId != null) {
        for (int pos = 0; pos < 8; pos++) {
          // CheckRunner's layout: one float per slot, at the start of the block.
          view.block(pendingBlocks[pos / 4])
              .set(ValueLayout.JAVA_FLOAT, (long) (pos % 4) * Float.BYTES, pendingPrompt[pos]);
        }
        recv.add(pendingId);
        pendingId = null;
      }
      Set<String> failed = new HashSet<>();
      if (failLoad && pendingId != null) {
        failed.add(pendingId);
        pendingId = null;
      }
      Set<String> send = releaseSend ? Set.copyOf(sent) : Set.of();
      return new Finished(send, recv, failed);
    }
  }

  /** A greedy 4-token request whose prompt KV a remote prefill computed ("remote"). */
  private static EngineRequest remotePrefilled(int[] prompt) {
    JsonNode params = Json.parse("{\"do_remote_prefill\":true}");
    return new EngineRequest(
        "remote",
        prompt,
        new RequestOptions(4, 0, false, Set.of(), List.of(), Set.of(), -1, null, params),
        GREEDY,
        LETTERS);
  }

  @Test
  void connectorLoadsAsynchronouslyAndDelaysTheFree() {
    FakeRemote kv = new FakeRemote();
    Scheduler s = scheduler(16, 512, 8, true, kv, EngineListener.NONE);
    assertThat(kv.view.numBlocks()).isEqualTo(16);
    assertThat(kv.view.layout()).contains("check").contains("block=4");
    int[] p = prompt(new Random(13), 10);
    EngineRequest r = remotePrefilled(p);
    s.add(r);
    s.step();
    s.step();
    assertThat(r.status).isEqualTo(RequestStatus.WAITING_FOR_REMOTE_KVS);
    assertThat(runner.tokensComputed).isZero();
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(14); // 8 loaded tokens = 2 blocks held
    kv.releaseLoad = true;
    kv.releaseSend = true;
    drain(s);
    Outcome o = outcome(r);
    assertThat(o.tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 4));
    assertThat(runner.tokensComputed)
        .isEqualTo(2 + 3); // only tokens 8..9 of the prompt + 3 decodes
    assertThat(o.end().kvTransferParams().get("remote_block_ids").asInt()).isEqualTo(4);
    assertThat(kv.calls).containsExactly("match remote 0", "alloc remote 8", "finished remote 4");
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(16);
    // A runner that keeps KV outside the pool (a GPU) is told which blocks the connector filled,
    // and, at the end, which blocks to make current in the pool.
    assertThat(runner.fromPool).containsExactly(kv.pendingBlocks[0], kv.pendingBlocks[1]);
    assertThat(runner.toPool).hasSize(4);
  }

  @Test
  void blocksAConnectorWroteOnTheDeviceAreNotCopiedOverFromThePool() {
    FakeRemote kv = new FakeRemote();
    kv.loadSecondBlockOnDevice = true;
    Scheduler s = scheduler(16, 512, 8, true, kv, EngineListener.NONE);
    int[] p = prompt(new Random(13), 10);
    EngineRequest r = remotePrefilled(p);
    s.add(r);
    s.step();
    kv.releaseLoad = true;
    kv.releaseSend = true;
    drain(s);
    // The load filled two blocks; the connector says it wrote the second straight into device
    // memory (CUDA IPC), so only the first comes from the host pool.
    assertThat(kv.deviceTaken).containsExactly("remote");
    assertThat(runner.fromPool).containsExactly(kv.pendingBlocks[0]);
    assertThat(outcome(r).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 4));
  }

  @Test
  void delayedFreeHoldsBlocksUntilTheConnectorSaysSent() {
    FakeRemote kv = new FakeRemote();
    kv.releaseLoad = true;
    Scheduler s = scheduler(16, 512, 8, true, kv, EngineListener.NONE);
    int[] p = prompt(new Random(14), 10);
    EngineRequest r =
        new EngineRequest(
            "prefill",
            p,
            new RequestOptions(
                1, 0, false, Set.of(), List.of(), Set.of(), -1, null, Json.parse("{}")),
            GREEDY,
            LETTERS);
    s.add(r);
    for (int i = 0; i < 10 && r.status != RequestStatus.FINISHED; i++) {
      s.step();
    }
    assertThat(r.status).isEqualTo(RequestStatus.FINISHED);
    assertThat(s.numDelayedFree()).isEqualTo(1);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(13);
    kv.releaseSend = true;
    drain(s);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(16);
  }

  private static EngineRequest remoteRequest(String id, int[] p) {
    return new EngineRequest(
        id,
        p,
        new RequestOptions(
            4, 0, false, Set.of(), List.of(), Set.of(), -1, null, Json.parse("{\"x\":1}")),
        GREEDY,
        LETTERS);
  }

  @Test
  void abortWhileLoadingFreesBlocksOnlyAfterTheConnectorIsDone() {
    FakeRemote kv = new FakeRemote();
    Scheduler s = scheduler(16, 512, 8, true, kv, EngineListener.NONE);
    EngineRequest r = remoteRequest("gone", prompt(new Random(15), 10));
    s.add(r);
    s.step();
    assertThat(r.status).isEqualTo(RequestStatus.WAITING_FOR_REMOTE_KVS);
    s.abort(r);
    assertThat(outcome(r).end().reason()).isEqualTo(FinishReason.ABORT);
    s.step();
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(14); // the load may still write into them
    kv.releaseLoad = true;
    kv.releaseSend = true;
    drain(s);
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(16);
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void failedLoadRecomputesOrFailsByPolicy(boolean recompute) {
    FakeRemote kv = new FakeRemote();
    kv.policy =
        recompute ? dev.baton.kv.LoadFailurePolicy.RECOMPUTE : dev.baton.kv.LoadFailurePolicy.FAIL;
    Scheduler s = scheduler(16, 512, 8, true, kv, EngineListener.NONE);
    int[] p = prompt(new Random(16), 10);
    EngineRequest r = remoteRequest("fails", p);
    s.add(r);
    s.step();
    kv.failLoad = true;
    kv.releaseSend = true;
    drain(s);
    if (recompute) {
      assertThat(outcome(r).tokenArray()).containsExactly(CheckRunner.expectedOutput(p, 4));
      assertThat(runner.tokensComputed).isEqualTo(10 + 3);
    } else {
      assertThat(outcome(r).end().reason()).isEqualTo(FinishReason.ERROR);
      assertThat(runner.tokensComputed).isZero();
    }
    assertThat(s.blocks().numFreeBlocks()).isEqualTo(16);
  }

  @Test
  void tokenOutsideTheVocabularyFailsOnlyThatRequest() {
    Scheduler s = scheduler(16, 512, 8, true);
    EngineRequest good = request("good", prompt(new Random(17), 5), 3);
    EngineRequest bad = request("bad", new int[] {1, CheckRunner.VOCAB}, 3);
    s.add(good);
    s.add(bad);
    drain(s);
    assertThat(outcome(bad).end().reason()).isEqualTo(FinishReason.ERROR);
    assertThat(outcome(bad).end().error()).contains("outside the vocabulary");
    assertThat(outcome(good).tokens()).hasSize(3);
  }
}
