package dev.baton.kv.offload;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The offload connector's second tier: a Redis or Valkey server shared by every worker, through
 * Lettuce. Reads are one {@code MGET} per {@link #fetch}, decoded straight into pooled off-heap
 * buffers ({@link PooledValueCodec}); a caller may start the next fetch before using the current
 * one, so Lettuce's event loop reads while the caller copies. Writes are one pipelined batch of
 * {@code SET}s. Each call waits at most {@code timeout}. While the server is unreachable every call
 * fails at once (Lettuce rejects commands while disconnected) and counts an error; a background
 * thread keeps connecting with backoff, and once connected Lettuce reconnects by itself.
 *
 * <p>Values are stored as {@link BlockCodec} writes them; this class moves bytes only.
 */
public final class L2Store implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(L2Store.class.getName());
  private static final long MAX_BACKOFF_MILLIS = 5_000;

  /**
   * Idle value buffers kept for reuse: two MGETs of 16 blocks in flight (a lookup's current and
   * next) need 32.
   */
  private static final int POOLED_VALUES = 32;

  /** Counters since start, for metrics. */
  public record Stats(
      long lookups,
      long hits,
      long misses,
      long writes,
      long errors,
      long bytesRead,
      long bytesWritten,
      boolean connected) {}

  private final RedisClient client;
  private final String url;
  private final byte[] keyPrefix;
  private final Duration timeout;
  private final long ttlSeconds;
  private final Thread connector;
  private final PooledValueCodec codec;
  private volatile StatefulRedisConnection<byte[], ByteBuffer> connection;
  private volatile boolean closed;
  private final java.util.concurrent.CountDownLatch firstAttempt =
      new java.util.concurrent.CountDownLatch(1);

  private final AtomicLong lookups = new AtomicLong();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final AtomicLong writes = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong bytesRead = new AtomicLong();
  private final AtomicLong bytesWritten = new AtomicLong();

  /**
   * Connects to {@code url} ({@code redis://host:port/db}) in the background; calls before the
   * connection is up fail fast. {@code ttlSeconds} 0 stores without expiry. {@code valueBytes}: the
   * size of one stored value (read buffers are pooled at that size; a larger value is a miss).
   */
  public L2Store(String url, String keyPrefix, Duration timeout, long ttlSeconds, int valueBytes) {
    RedisURI uri;
    try {
      uri = RedisURI.create(url);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("l2_url '" + url + "' is no redis:// URL", e);
    }
    uri.setTimeout(timeout);
    this.url = url;
    this.keyPrefix = keyPrefix.getBytes(StandardCharsets.UTF_8);
    this.timeout = timeout;
    this.ttlSeconds = ttlSeconds;
    this.codec = new PooledValueCodec(valueBytes, POOLED_VALUES);
    this.client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .timeoutOptions(TimeoutOptions.enabled(timeout))
            .socketOptions(SocketOptions.builder().connectTimeout(timeout).build())
            .build());
    this.connector = Thread.ofVirtual().name("l2-connect").start(this::connectWithBackoff);
  }

  private void connectWithBackoff() {
    long backoff = 100;
    while (!closed) {
      try {
        StatefulRedisConnection<byte[], ByteBuffer> c = client.connect(codec);
        if (closed) {
          c.close();
          return;
        }
        connection = c;
        firstAttempt.countDown();
        LOG.log(Level.INFO, "KV cache L2 connected to {0}", url);
        return;
      } catch (RuntimeException e) {
        if (firstAttempt.getCount() > 0) {
          LOG.log(
              Level.WARNING, "KV cache L2 {0} unreachable (retrying): {1}", url, e.getMessage());
        }
        firstAttempt.countDown();
      }
      try {
        Thread.sleep(backoff);
      } catch (InterruptedException e) {
        return;
      }
      backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
    }
  }

  /**
   * Waits until the first connection attempt has ended (connected or failed), at most {@code
   * limit}: a worker starting next to a running server is then connected before it serves.
   */
  public void awaitFirstAttempt(Duration limit) {
    try {
      firstAttempt.await(limit.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether the server answers now (a connection exists and is open). */
  public boolean connected() {
    StatefulRedisConnection<byte[], ByteBuffer> c = connection;
    return c != null && c.isOpen();
  }

  private byte[] redisKey(BlockKey key) {
    byte[] hex = key.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[keyPrefix.length + hex.length];
    System.arraycopy(keyPrefix, 0, out, 0, keyPrefix.length);
    System.arraycopy(hex, 0, out, keyPrefix.length, hex.length);
    return out;
  }

  /**
   * Starts reading the stored values of {@code keys} (one {@code MGET}) and returns at once; {@link
   * Fetch#await} waits for them. Close the fetch when done with its values: that gives their
   * buffers back (for a fetch still in flight, once it completes).
   */
  public Fetch fetch(List<BlockKey> keys) {
    if (keys.isEmpty()) {
      return new Fetch(0, null);
    }
    lookups.incrementAndGet();
    StatefulRedisConnection<byte[], ByteBuffer> c = connection;
    if (c == null || !c.isOpen()) {
      errors.incrementAndGet();
      return new Fetch(keys.size(), null);
    }
    byte[][] redisKeys = keys.stream().map(this::redisKey).toArray(byte[][]::new);
    try {
      return new Fetch(keys.size(), c.async().mget(redisKeys));
    } catch (RuntimeException e) { // rejected: disconnected meanwhile
      errors.incrementAndGet();
      return new Fetch(keys.size(), null);
    }
  }

  /** One {@code MGET} in flight or done; its values live in pooled buffers until {@link #close}. */
  public final class Fetch implements AutoCloseable {
    private final int size;
    private final RedisFuture<List<KeyValue<byte[], ByteBuffer>>> reply;
    private MemorySegment[] values;
    private boolean closed;

    private Fetch(int size, RedisFuture<List<KeyValue<byte[], ByteBuffer>>> reply) {
      this.size = size;
      this.reply = reply;
    }

    /**
     * The values in key order, null where absent; all null when the server is unreachable or slower
     * than the timeout (counted as an error). Valid until {@link #close}.
     */
    public MemorySegment[] await() {
      if (values != null) {
        return values;
      }
      values = new MemorySegment[size];
      if (reply == null) {
        return values;
      }
      try {
        List<KeyValue<byte[], ByteBuffer>> got =
            reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        for (int i = 0; i < size && i < got.size(); i++) {
          KeyValue<byte[], ByteBuffer> kv = got.get(i);
          if (kv.hasValue()) {
            values[i] = MemorySegment.ofBuffer(kv.getValue());
            hits.incrementAndGet();
            bytesRead.addAndGet(values[i].byteSize());
          } else {
            misses.incrementAndGet();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        errors.incrementAndGet();
      } catch (Exception e) {
        errors.incrementAndGet();
        LOG.log(Level.DEBUG, "KV cache L2 read failed: {0}", e.toString());
      }
      return values;
    }

    @Override
    public void close() {
      if (closed || reply == null) {
        return;
      }
      closed = true;
      reply.whenComplete(
          (got, error) -> {
            if (got != null) {
              got.forEach(kv -> codec.release(kv.getValueOrElse(null)));
            }
          });
    }
  }

  /**
   * Stores {@code values[i]} under {@code keys[i]} in one pipelined batch; false (counted as an
   * error) when the server is unreachable or does not confirm within the timeout.
   */
  public boolean putAll(List<BlockKey> keys, List<byte[]> values) {
    if (keys.isEmpty()) {
      return true;
    }
    StatefulRedisConnection<byte[], ByteBuffer> c = connection;
    if (c == null || !c.isOpen()) {
      errors.incrementAndGet();
      return false;
    }
    RedisAsyncCommands<byte[], ByteBuffer> async = c.async();
    SetArgs args = ttlSeconds > 0 ? SetArgs.Builder.ex(ttlSeconds) : new SetArgs();
    List<RedisFuture<String>> pending = new ArrayList<>(keys.size());
    try {
      for (int i = 0; i < keys.size(); i++) {
        pending.add(async.set(redisKey(keys.get(i)), ByteBuffer.wrap(values.get(i)), args));
      }
      long deadline = System.nanoTime() + timeout.toNanos();
      long bytes = 0;
      for (int i = 0; i < pending.size(); i++) {
        long left = Math.max(0, deadline - System.nanoTime());
        pending.get(i).get(left, TimeUnit.NANOSECONDS);
        bytes += values.get(i).length;
      }
      writes.addAndGet(keys.size());
      bytesWritten.addAndGet(bytes);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.log(Level.DEBUG, "KV cache L2 write failed: {0}", e.toString());
    }
    errors.incrementAndGet();
    return false;
  }

  /** Read buffers waiting in the pool (tests: every fetch gives its buffers back). */
  int idleReadBuffers() {
    return codec.idleBuffers();
  }

  public Stats stats() {
    return new Stats(
        lookups.get(),
        hits.get(),
        misses.get(),
        writes.get(),
        errors.get(),
        bytesRead.get(),
        bytesWritten.get(),
        connected());
  }

  @Override
  public void close() {
    closed = true;
    connector.interrupt();
    StatefulRedisConnection<byte[], ByteBuffer> c = connection;
    if (c != null) {
      c.close();
    }
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }
}
