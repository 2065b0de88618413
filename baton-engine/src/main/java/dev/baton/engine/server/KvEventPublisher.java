package dev.baton.engine.server;

import dev.baton.core.BlockHash;
import dev.baton.core.KvEvents;
import dev.baton.engine.sched.KvEventSink;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * Publishes the prefix cache's changes as vLLM does ({@code ZmqEventPublisher}): a PUB socket sends
 * each batch as the frames {@code [topic, seq as 8 bytes big-endian, msgpack batch]}; an optional
 * ROUTER socket answers a replay request (a start seq, 8 bytes) with every buffered batch from it,
 * then {@code [-1, empty]}. Block hashes go out as vLLM's integer form: the first 8 bytes of
 * Baton's SHA-256 block hash.
 *
 * <p>The engine thread only enqueues (never blocks: a full queue drops and counts); one publisher
 * thread owns both sockets, as ZeroMQ sockets are not thread-safe.
 */
public final class KvEventPublisher implements KvEventSink, AutoCloseable {

  private static final byte[] END_SEQ = ByteBuffer.allocate(8).putLong(-1).array();
  private static final int MAX_EVENTS_PER_BATCH = 1024;

  private final KvEventsConfig config;
  private final BlockingQueue<KvEvents.Event> queue;
  private final ArrayDeque<byte[][]> replayBuffer = new ArrayDeque<>();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong published = new AtomicLong();
  private final ZContext context = new ZContext(1);
  private final ZMQ.Socket pub;
  private final ZMQ.Socket replay;
  private final String boundEndpoint;
  private final String boundReplayEndpoint;
  private final Thread thread;
  private volatile boolean running = true;
  private long seq;

  public KvEventPublisher(KvEventsConfig config) {
    this.config = config;
    this.queue = new ArrayBlockingQueue<>(config.maxQueueSize());
    try {
      pub = context.createSocket(SocketType.PUB);
      pub.setSndHWM(config.hwm());
      pub.setLinger(0);
      if (binds(config.endpoint())) {
        pub.bind(config.endpoint());
      } else {
        pub.connect(config.endpoint());
      }
      if (config.replayEndpoint() != null) {
        replay = context.createSocket(SocketType.ROUTER);
        replay.setLinger(0);
        replay.bind(config.replayEndpoint());
      } else {
        replay = null;
      }
      // Read here, before the publisher thread owns the sockets (they are not thread-safe).
      boundEndpoint = pub.getLastEndpoint();
      boundReplayEndpoint = replay == null ? null : replay.getLastEndpoint();
    } catch (RuntimeException e) {
      context.close();
      throw new IllegalArgumentException(
          "--kv-events-config: cannot open " + config.endpoint() + ": " + e.getMessage(), e);
    }
    thread = Thread.ofPlatform().daemon().name("kv-events-publisher").start(this::run);
  }

  /** vLLM's rule: a wildcard host or an ipc/inproc address is bound, anything else connected. */
  static boolean binds(String endpoint) {
    return endpoint.contains("*")
        || endpoint.contains("::")
        || endpoint.startsWith("ipc://")
        || endpoint.startsWith("inproc://");
  }

  /** The PUB socket's address as bound (a wildcard port resolved). */
  public String endpoint() {
    return boundEndpoint;
  }

  /** The replay ROUTER socket's address as bound, or null when there is none. */
  public String replayEndpoint() {
    return boundReplayEndpoint;
  }

  /** The topic every batch is sent under. */
  public String topic() {
    return config.topic();
  }

  /** Events dropped because the queue was full. */
  public long dropped() {
    return dropped.get();
  }

  /** Batches sent. */
  public long published() {
    return published.get();
  }

  @Override
  public void stored(byte[][] hashes, byte[] parent, int[] tokens, int blockSize, String salt) {
    offer(
        new KvEvents.BlockStored(
            keys(hashes),
            parent == null ? null : BlockHash.shortKey(parent),
            tokens,
            blockSize,
            salt));
  }

  @Override
  public void removed(byte[][] hashes) {
    offer(new KvEvents.BlockRemoved(keys(hashes)));
  }

  @Override
  public void cleared() {
    offer(new KvEvents.AllBlocksCleared());
  }

  private void offer(KvEvents.Event e) {
    if (!queue.offer(e)) {
      dropped.incrementAndGet();
    }
  }

  private static long[] keys(byte[][] hashes) {
    long[] out = new long[hashes.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = BlockHash.shortKey(hashes[i]);
    }
    return out;
  }

  private void run() {
    List<KvEvents.Event> batch = new ArrayList<>();
    while (running || !queue.isEmpty()) {
      try {
        if (replay != null) {
          serviceReplay();
        }
        KvEvents.Event first = queue.poll(20, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, MAX_EVENTS_PER_BATCH - 1);
        send(List.copyOf(batch));
        batch.clear();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        // A closed context or a send error: the batch is lost, the thread goes on (vLLM does too).
        batch.clear();
        if (!running) {
          return;
        }
      }
    }
  }

  private void send(List<KvEvents.Event> events) {
    byte[] payload =
        KvEvents.encode(new KvEvents.Batch(System.currentTimeMillis() / 1000.0, events));
    byte[] seqBytes = ByteBuffer.allocate(8).putLong(seq).array();
    pub.sendMore(config.topic());
    pub.sendMore(seqBytes);
    pub.send(payload);
    published.incrementAndGet();
    seq++;
    if (replay != null) {
      if (replayBuffer.size() == config.bufferSteps()) {
        replayBuffer.removeFirst();
      }
      replayBuffer.addLast(new byte[][] {seqBytes, payload});
    }
  }

  /** Answers waiting replay requests: {@code [identity, empty, start seq]}. */
  private void serviceReplay() {
    byte[] first;
    while ((first = replay.recv(ZMQ.DONTWAIT)) != null) {
      List<byte[]> frames = new ArrayList<>(List.of(first));
      while (replay.hasReceiveMore() && frames.size() < 8) {
        frames.add(replay.recv());
      }
      while (replay.hasReceiveMore()) {
        replay.recv(); // an oversized request: drain and ignore it
      }
      if (frames.size() != 3 || frames.get(2).length != 8) {
        continue;
      }
      long start = ByteBuffer.wrap(frames.get(2)).getLong();
      for (byte[][] entry : replayBuffer) {
        if (ByteBuffer.wrap(entry[0]).getLong() >= start) {
          reply(frames.get(0), entry[0], entry[1]);
        }
      }
      reply(frames.get(0), END_SEQ, new byte[0]);
    }
  }

  private void reply(byte[] identity, byte[] seqBytes, byte[] payload) {
    replay.sendMore(identity);
    replay.sendMore(new byte[0]);
    replay.sendMore(seqBytes);
    replay.send(payload);
  }

  @Override
  public void close() {
    running = false;
    try {
      thread.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    context.close();
  }
}
