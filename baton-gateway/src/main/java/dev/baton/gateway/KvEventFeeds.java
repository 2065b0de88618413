package dev.baton.gateway;

import dev.baton.core.KvEvents;
import dev.baton.gateway.policy.KvEventIndex;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * Subscribes to the KV events of every worker whose spec names a {@code kv_events} endpoint (a
 * ZeroMQ SUB socket connected to the worker's PUB socket, as Dynamo and llm-d subscribe to vLLM)
 * and feeds them into that worker's {@link KvEventIndex}. A message is the frames {@code [topic,
 * seq, batch]}; a sequence number going backwards means the worker restarted with an empty cache,
 * so its index starts over. Malformed messages are counted and skipped: a worker cannot break the
 * gateway with them.
 *
 * <p>Where the worker also names its replay endpoint ({@code kv_events_replay}), batches the SUB
 * socket missed are asked for there, as vLLM's replay protocol has it: a DEALER sends {@code
 * [empty, start seq (8 bytes big-endian)]} to the worker's ROUTER, which answers every batch it
 * still buffers from that seq as {@code [empty, seq, batch]} and ends with {@code [empty, seq -1,
 * empty]}. That happens after a gap between two sequence numbers, and when the first message
 * received is not seq 0 (the gateway subscribed after the worker had published: ZeroMQ drops what
 * was sent before a subscriber connected), so a gateway that starts late learns the cache too.
 * Replayed batches are applied in order before the message that showed the gap. A feed also asks
 * for everything buffered right after it subscribes, and again whenever its SUB socket was quiet
 * for three seconds: batches that were lost with nothing after them show no gap.
 */
final class KvEventFeeds implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(KvEventFeeds.class.getName());

  private final Map<Worker, Feed> feeds = new IdentityHashMap<>();
  private final AtomicLong malformed = new AtomicLong();
  private final AtomicLong missed = new AtomicLong();
  private final AtomicLong replayed = new AtomicLong();

  /** How long one replay request may take before it is asked again on a new connection. */
  private static final int REPLAY_TIMEOUT_MS = 2000;

  /**
   * Replay requests per gap: a new ZeroMQ connection now and then takes seconds to come up (seen
   * with JeroMQ on a loaded machine), so an unanswered request is asked again on a fresh one.
   */
  private static final int REPLAY_ATTEMPTS = 3;

  /** How long the SUB socket may be quiet before the replay endpoint is asked what it missed. */
  private static final long IDLE_POLL_NS = 3_000_000_000L;

  private static final byte[] EMPTY = new byte[0];

  /** Starts feeds for new workers with an endpoint and stops those of workers that left. */
  synchronized void sync(Collection<Worker> workers) {
    Map<Worker, Feed> keep = new IdentityHashMap<>();
    for (Worker w : workers) {
      if (w.kvEvents() == null || w.kvEventEndpoints() == null) {
        continue;
      }
      Feed f = feeds.remove(w);
      keep.put(w, f != null && f.follows(w.kvEventEndpoints()) ? f : new Feed(w));
      if (f != null && keep.get(w) != f) {
        f.close();
      }
    }
    feeds.values().forEach(Feed::close);
    feeds.clear();
    feeds.putAll(keep);
  }

  /**
   * Follows one worker at the endpoints it now names (a worker that told them on {@code GET
   * /kv_events}); a feed on other endpoints (the worker restarted on new ports) is replaced.
   */
  synchronized void follow(Worker w) {
    Feed f = feeds.get(w);
    if (f != null && f.follows(w.kvEventEndpoints())) {
      return;
    }
    if (f != null) {
      f.close();
      w.kvEvents().clear(); // a new publisher: its cache starts empty
    }
    feeds.put(w, new Feed(w));
  }

  /**
   * Makes anew the feed of a worker it follows whose thread died (an error in the ZeroMQ stack):
   * the new feed starts from an empty index and catches up through the replay endpoint.
   */
  synchronized void revive(Worker w) {
    Feed f = feeds.get(w);
    if (f != null && !f.thread.isAlive()) {
      w.kvEvents().clear();
      feeds.put(w, new Feed(w));
    }
  }

  /** Messages that did not decode. */
  long malformed() {
    return malformed.get();
  }

  /** Batches lost between two received ones (sequence gaps) and not replayed. */
  long missed() {
    return missed.get();
  }

  /** Batches the workers' replay endpoints filled in. */
  long replayed() {
    return replayed.get();
  }

  @Override
  public synchronized void close() {
    feeds.values().forEach(Feed::close);
    feeds.clear();
  }

  private final class Feed implements AutoCloseable {
    private final Worker worker;
    private final String endpoint;
    private final String replayEndpoint;
    private ZMQ.Socket replay; // the feed thread's own, made at the first gap
    private final KvEventIndex index;
    private final Thread thread;
    private volatile boolean running = true;
    // The feed thread's own state:
    private long last = -1; // the highest sequence number applied
    private boolean replayedAhead; // a catch-up applied batches the SUB socket may still bring
    private boolean answered; // the last replay request got its end marker

    Feed(Worker worker) {
      this.worker = worker;
      Worker.KvEventEndpoints at = worker.kvEventEndpoints();
      this.endpoint = at.events();
      this.replayEndpoint = at.replay();
      this.index = worker.kvEvents();
      this.thread = Thread.ofPlatform().daemon().name("kv-events " + worker.url()).start(this::run);
    }

    private void run() {
      // ZeroMQ sockets belong to one thread: this one creates, uses and closes its own.
      try (ZContext context = new ZContext(1)) {
        ZMQ.Socket sub = context.createSocket(SocketType.SUB);
        sub.setReceiveTimeOut(100);
        sub.setLinger(0);
        sub.subscribe(new byte[0]);
        sub.connect(endpoint);
        if (replayEndpoint != null) {
          // What the worker published before this subscription joined.
          catchUp(context, 0, REPLAY_ATTEMPTS);
        }
        long quietSince = System.nanoTime();
        while (running) {
          byte[] topic = sub.recv();
          if (topic == null) {
            if (replayEndpoint != null && System.nanoTime() - quietSince > IDLE_POLL_NS) {
              catchUp(context, last + 1, 1); // the tail of a burst the SUB socket lost
              quietSince = System.nanoTime();
            }
            continue;
          }
          quietSince = System.nanoTime();
          byte[] seqFrame = sub.hasReceiveMore() ? sub.recv() : null;
          byte[] payload = sub.hasReceiveMore() ? sub.recv() : null;
          while (sub.hasReceiveMore()) {
            sub.recv();
          }
          if (seqFrame == null || seqFrame.length != 8 || payload == null) {
            malformed.incrementAndGet();
            continue;
          }
          long seq = ByteBuffer.wrap(seqFrame).getLong();
          KvEvents.Batch batch;
          try {
            batch = KvEvents.decode(payload);
          } catch (IllegalArgumentException e) {
            malformed.incrementAndGet();
            continue;
          }
          if (replayedAhead) {
            if (seq <= last) {
              continue; // the SUB copy of a batch a replay applied already
            }
            replayedAhead = false;
          }
          if (last >= 0 && seq <= last) {
            // The publisher started over (a restarted worker, an empty cache): its batches before
            // this one are asked for below, as after a late subscription.
            index.clear();
            last = -1;
          }
          if (seq > last + 1) {
            boolean first = last < 0;
            long lost = seq - last - 1;
            long filled = 0;
            for (int attempt = 0; attempt < REPLAY_ATTEMPTS && filled == 0; attempt++) {
              filled = replayEndpoint == null ? 0 : replay(context, last + 1, seq);
            }
            replayed.addAndGet(filled);
            if (!first) {
              missed.addAndGet(lost - filled);
            }
          }
          last = seq;
          index.apply(batch);
        }
      } catch (RuntimeException e) {
        if (running) {
          LOG.log(Level.WARNING, "KV events of " + worker.url() + " stopped", e);
        }
      }
    }

    /**
     * Asks the replay endpoint for every batch from {@code from} on, beyond the last one applied:
     * at start (ZeroMQ drops what a PUB sends before a subscriber joined, so the batches of a
     * request served just before would never show) and after the SUB socket was quiet for a while
     * (a lost tail shows no sequence gap until the next batch, which may never come). The SUB
     * socket may deliver the same batches afterwards: those are skipped ({@link #replayedAhead}),
     * not taken for a restart.
     */
    private void catchUp(ZContext context, long from, int attempts) {
      long before = last;
      long filled = 0;
      answered = false;
      for (int attempt = 0; attempt < attempts && !answered; attempt++) {
        // A retry goes on after what an unfinished answer already applied.
        filled += replay(context, Math.max(from, last + 1), Long.MAX_VALUE);
      }
      replayed.addAndGet(filled);
      replayedAhead |= last > before;
    }

    /**
     * Asks the worker's replay endpoint for the batches {@code from} (inclusive) to {@code until}
     * (exclusive) and applies those it still has, in order; returns how many. A worker that does
     * not answer within {@link #REPLAY_TIMEOUT_MS} leaves the gap (its socket is made anew next
     * time, so a late answer cannot be mistaken for the next one).
     */
    private long replay(ZContext context, long from, long until) {
      if (replay == null) {
        replay = context.createSocket(SocketType.DEALER);
        replay.setLinger(0);
        replay.setReceiveTimeOut(REPLAY_TIMEOUT_MS);
        replay.connect(replayEndpoint);
      }
      replay.sendMore(EMPTY);
      replay.send(ByteBuffer.allocate(8).putLong(from).array());
      answered = false;
      long applied = 0;
      long deadline = System.nanoTime() + REPLAY_TIMEOUT_MS * 1_000_000L;
      while (running && System.nanoTime() < deadline) {
        byte[] first = replay.recv();
        if (first == null) {
          break; // timed out
        }
        byte[] seqFrame = replay.hasReceiveMore() ? replay.recv() : null;
        byte[] payload = replay.hasReceiveMore() ? replay.recv() : null;
        while (replay.hasReceiveMore()) {
          replay.recv();
        }
        if (first.length != 0 || seqFrame == null || seqFrame.length != 8 || payload == null) {
          malformed.incrementAndGet();
          continue;
        }
        long seq = ByteBuffer.wrap(seqFrame).getLong();
        if (seq == -1) {
          answered = true;
          return applied; // the end of the replay
        }
        if (seq < from || seq >= until) {
          continue; // already applied, or coming on the SUB socket
        }
        try {
          index.apply(KvEvents.decode(payload));
          applied++;
          last = Math.max(last, seq);
        } catch (IllegalArgumentException e) {
          malformed.incrementAndGet();
        }
      }
      replay.close();
      replay = null;
      return applied;
    }

    /** Whether this feed subscribes to {@code at}. */
    boolean follows(Worker.KvEventEndpoints at) {
      return at != null
          && endpoint.equals(at.events())
          && java.util.Objects.equals(replayEndpoint, at.replay());
    }

    @Override
    public void close() {
      running = false;
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
