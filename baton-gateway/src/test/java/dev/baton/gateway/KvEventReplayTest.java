package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.KvEvents;
import dev.baton.core.Role;
import dev.baton.gateway.policy.KvEventIndex;
import dev.baton.gateway.policy.PromptKeys;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The gateway asks a worker's replay endpoint for KV-event batches its subscription missed, with
 * vLLM's replay protocol, against a publisher that speaks it over real ZeroMQ sockets: PUB frames
 * {@code [topic, seq, batch]}, a ROUTER answering {@code [empty, start seq]} with {@code [empty,
 * seq, batch]}... and {@code [empty, -1, empty]}.
 */
class KvEventReplayTest {

  static final PromptKeys KEYS = new PromptKeys(null, 2, 8);

  /** A chain of three blocks, one batch each: [1,2] then [3,4] then [5,6]. */
  static final Map<Long, KvEvents.Batch> CHAIN = new TreeMap<>();

  static {
    CHAIN.put(
        0L, batch(new KvEvents.BlockStored(new long[] {10}, null, new int[] {1, 2}, 2, null)));
    CHAIN.put(1L, batch(new KvEvents.BlockStored(new long[] {20}, 10L, new int[] {3, 4}, 2, null)));
    CHAIN.put(2L, batch(new KvEvents.BlockStored(new long[] {30}, 20L, new int[] {5, 6}, 2, null)));
  }

  static KvEvents.Batch batch(KvEvents.Event e) {
    return new KvEvents.Batch(0, List.of(e));
  }

  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : open.reversed()) {
      c.close();
    }
  }

  /** A worker's KV event publisher as vLLM's ZmqEventPublisher behaves on the wire. */
  static final class Publisher implements AutoCloseable {
    final ZContext context = new ZContext(1);
    final ZMQ.Socket pub = context.createSocket(SocketType.XPUB); // PUB that sees subscribers
    final int pubPort = pub.bindToRandomPort("tcp://127.0.0.1");
    final Map<Long, byte[]> buffer = new ConcurrentSkipListMap<>();
    final java.util.concurrent.atomic.AtomicInteger replayRequests =
        new java.util.concurrent.atomic.AtomicInteger();
    final int replayPort;
    final Thread replayThread;
    volatile boolean running = true;

    Publisher() {
      ZMQ.Socket router = context.createSocket(SocketType.ROUTER);
      replayPort = router.bindToRandomPort("tcp://127.0.0.1");
      router.setReceiveTimeOut(50);
      replayThread = Thread.ofPlatform().daemon().start(() -> serve(router));
    }

    /** Whether a subscriber connected within {@code ms} (ZeroMQ drops what a PUB sends before). */
    boolean subscribed(int ms) {
      pub.setReceiveTimeOut(ms);
      return pub.recv() != null;
    }

    /** Records a batch for replay; publishes it unless {@code lost}. */
    void send(long seq, KvEvents.Batch batch, boolean lost) {
      byte[] payload = KvEvents.encode(batch);
      buffer.put(seq, payload);
      if (!lost) {
        pub.sendMore("kv-events");
        pub.sendMore(seqBytes(seq));
        pub.send(payload);
      }
    }

    private void serve(ZMQ.Socket router) {
      while (running) {
        byte[] identity = router.recv();
        if (identity == null) {
          continue;
        }
        byte[] empty = router.recv();
        byte[] start = router.recv();
        assertThat(empty).isEmpty();
        long from = ByteBuffer.wrap(start).getLong();
        replayRequests.incrementAndGet();
        for (var e : buffer.entrySet()) {
          if (e.getKey() >= from) {
            router.sendMore(identity);
            router.sendMore(new byte[0]);
            router.sendMore(seqBytes(e.getKey()));
            router.send(e.getValue());
          }
        }
        router.sendMore(identity);
        router.sendMore(new byte[0]);
        router.sendMore(seqBytes(-1));
        router.send(new byte[0]);
      }
      router.close();
    }

    static byte[] seqBytes(long seq) {
      return ByteBuffer.allocate(8).putLong(seq).array();
    }

    @Override
    public void close() throws InterruptedException {
      running = false;
      replayThread.join(2000);
      context.close();
    }
  }

  /**
   * A worker following the publisher through the gateway's feeds, once its subscription is up and
   * (with a replay endpoint) the feed asked what was published before it. A new JeroMQ connection
   * now and then takes seconds to come up here: the feed is then made anew.
   */
  Worker follow(Publisher p, boolean withReplay) {
    Worker w =
        new Worker(
            new WorkerSpec(
                "http://127.0.0.1:1",
                Role.BOTH,
                null,
                0,
                "tcp://127.0.0.1:" + p.pubPort,
                withReplay ? "tcp://127.0.0.1:" + p.replayPort : null),
            new CircuitBreaker(3, 1000, System::nanoTime));
    w.kvEvents(new KvEventIndex(2, 1000));
    KvEventFeeds feeds = new KvEventFeeds();
    open.add(feeds);
    lastFeeds = feeds;
    for (int attempt = 0; attempt < 5; attempt++) {
      int asked = p.replayRequests.get();
      feeds.sync(List.of(w));
      if (p.subscribed(3000)) {
        if (withReplay) {
          await().atMost(Duration.ofSeconds(10)).until(() -> p.replayRequests.get() > asked);
        }
        return w;
      }
      feeds.sync(List.of()); // stops that feed; the next sync starts a new one
    }
    throw new AssertionError("no subscription from the gateway's feed");
  }

  KvEventFeeds lastFeeds;

  static long[] prompt() {
    ObjectNode body = Json.object();
    body.putArray("prompt").add(1).add(2).add(3).add(4).add(5).add(6);
    return KEYS.of(body, false).blockKeys();
  }

  Publisher publisher() {
    Publisher p = new Publisher();
    open.add(p);
    return p;
  }

  @Test
  void aSequenceGapIsFilledFromTheReplayEndpoint() {
    Publisher p = publisher();
    Worker w = follow(p, true);
    p.send(0, CHAIN.get(0L), false);
    p.send(1, CHAIN.get(1L), true); // lost on the way: the SUB socket never sees it
    p.send(2, CHAIN.get(2L), false);
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 3);
    assertThat(lastFeeds.replayed()).isEqualTo(1);
    assertThat(lastFeeds.missed()).isZero();
  }

  @Test
  void aGatewaySubscribingLateLearnsWhatWasPublishedBefore() {
    Publisher p = publisher();
    p.send(0, CHAIN.get(0L), true); // published before the gateway subscribed
    p.send(1, CHAIN.get(1L), true);
    Worker w = follow(p, true);
    p.send(2, CHAIN.get(2L), false);
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 3);
    assertThat(lastFeeds.replayed()).isEqualTo(2);
  }

  @Test
  void whatWasPublishedBeforeTheSubscriptionIsLearnedWithNothingAfterIt() {
    Publisher p = publisher();
    p.send(0, CHAIN.get(0L), true); // a request served before the gateway subscribed
    p.send(1, CHAIN.get(1L), true);
    Worker w = follow(p, true);
    // No batch follows (an idle worker): the feed's catch-up at start is all that tells.
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 2);
  }

  @Test
  void aLostTailIsFoundWhenTheSubscriptionGoesQuietAndItsLateCopiesAreSkipped() {
    Publisher p = publisher();
    Worker w = follow(p, true);
    p.send(0, CHAIN.get(0L), true); // lost, and nothing after it shows a gap
    p.send(1, CHAIN.get(1L), true);
    await().atMost(Duration.ofSeconds(15)).until(() -> w.kvEvents().leadingMatches(prompt()) == 2);
    assertThat(lastFeeds.replayed()).isEqualTo(2);
    // A copy of batch 1 arriving after the replay is no restart: the cache stays whole.
    p.send(1, CHAIN.get(1L), false);
    p.send(2, CHAIN.get(2L), false);
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 3);
    assertThat(lastFeeds.missed()).isZero();
  }

  @Test
  void aRestartedPublishersEarlierBatchesAreReplayedAfterTheIndexStartsOver() {
    Publisher p = publisher();
    Worker w = follow(p, true);
    p.send(0, CHAIN.get(0L), false);
    p.send(1, CHAIN.get(1L), false);
    p.send(2, CHAIN.get(2L), false);
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 3);
    // The worker restarts on the same ports: an empty cache, sequence numbers from 0 again; its
    // first batch goes out before the SUB socket reconnected.
    p.buffer.clear();
    p.send(0, CHAIN.get(0L), true);
    p.send(1, CHAIN.get(1L), false);
    // Seq 1 after seq 2 clears the index; batch 0 comes from the replay, so the chain holds.
    await().atMost(Duration.ofSeconds(10)).until(() -> w.kvEvents().leadingMatches(prompt()) == 2);
    assertThat(lastFeeds.missed()).isZero();
  }

  @Test
  void withoutAReplayEndpointTheGapStaysAndIsCounted() {
    Publisher p = publisher();
    Worker w = follow(p, false);
    p.send(0, CHAIN.get(0L), false);
    p.send(1, CHAIN.get(1L), true);
    p.send(2, CHAIN.get(2L), false);
    await().atMost(Duration.ofSeconds(10)).until(() -> lastFeeds.missed() == 1);
    assertThat(w.kvEvents().leadingMatches(prompt())).isEqualTo(1); // block 3's parent unknown
  }
}
