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
 */
final class KvEventFeeds implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(KvEventFeeds.class.getName());

  private final Map<Worker, Feed> feeds = new IdentityHashMap<>();
  private final AtomicLong malformed = new AtomicLong();
  private final AtomicLong missed = new AtomicLong();

  /** Starts feeds for new workers with an endpoint and stops those of workers that left. */
  synchronized void sync(Collection<Worker> workers) {
    Map<Worker, Feed> keep = new IdentityHashMap<>();
    for (Worker w : workers) {
      if (w.kvEvents() == null) {
        continue;
      }
      Feed f = feeds.remove(w);
      keep.put(w, f != null ? f : new Feed(w));
    }
    feeds.values().forEach(Feed::close);
    feeds.clear();
    feeds.putAll(keep);
  }

  /** Messages that did not decode. */
  long malformed() {
    return malformed.get();
  }

  /** Batches lost between two received ones (sequence gaps). */
  long missed() {
    return missed.get();
  }

  @Override
  public synchronized void close() {
    feeds.values().forEach(Feed::close);
    feeds.clear();
  }

  private final class Feed implements AutoCloseable {
    private final Worker worker;
    private final String endpoint;
    private final KvEventIndex index;
    private final Thread thread;
    private volatile boolean running = true;

    Feed(Worker worker) {
      this.worker = worker;
      this.endpoint = worker.spec().kvEvents();
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
        long last = -1;
        while (running) {
          byte[] topic = sub.recv();
          if (topic == null) {
            continue;
          }
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
          if (last >= 0 && seq <= last) {
            index.clear(); // the publisher started over: a restarted worker, an empty cache
          } else if (last >= 0 && seq > last + 1) {
            missed.addAndGet(seq - last - 1);
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
