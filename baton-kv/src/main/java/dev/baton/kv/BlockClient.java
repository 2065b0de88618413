package dev.baton.kv;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The consumer side of the transfer channel: pulls leased blocks from a {@link BlockServer} into
 * local block memory, many blocks per message, and releases leases. Authenticated connections are
 * kept per peer and reused. With a same-host peer that exports its memory, bytes are copied
 * straight out of the peer's shared-memory file (one memcpy); otherwise they stream over TCP
 * straight into the local blocks (scatter read, no heap copy).
 *
 * <p>Every failure (peer gone, wrong secret, lease expired, timeout) comes back as a {@link
 * TransferResult}; nothing is thrown. Thread-safe.
 */
public final class BlockClient implements AutoCloseable {

  private static final int MAX_IDLE_PER_PEER = 16;

  private final KvCacheView memory;
  private final byte[] secret;
  private final String layoutKey;
  private final Transport transport;
  private final long timeoutMillis;
  private final String hostId = Wire.hostId();
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Deque<Connection>> idle = new ConcurrentHashMap<>();
  private final Map<String, Mapping> mappings = new ConcurrentHashMap<>();
  private final ScheduledExecutorService watchdog;
  private volatile boolean closed;

  /** An authenticated connection and what the server told us about itself. */
  private record Connection(
      SocketChannel channel, String peerHostId, String exportPath, long blockBytes) {}

  /** A peer's shared memory mapped read-only into this process. */
  private record Mapping(String path, Arena arena, MemorySegment segment) {}

  /** An expected failure on the way: carried out of nested calls, turned into a result. */
  private static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    final TransferStatus status;

    Failure(TransferStatus status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  public BlockClient(
      KvCacheView memory, byte[] secret, String layoutKey, Transport transport, Duration timeout) {
    this.memory = memory;
    this.secret = secret.clone();
    this.layoutKey = layoutKey;
    this.transport = transport;
    this.timeoutMillis = timeout.toMillis();
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-kv-client-watchdog");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Copies the peer's blocks {@code remoteIds[i]} into local blocks {@code localIds[i]}, all in one
   * message, then releases the lease when {@code releaseAfter}. On failure the local blocks may
   * hold partial data.
   */
  public TransferResult pull(
      String host,
      int port,
      String requestId,
      String leaseToken,
      int[] remoteIds,
      int[] localIds,
      boolean releaseAfter) {
    if (remoteIds.length != localIds.length) {
      return TransferResult.failed(
          TransferStatus.BAD_PARAMS, "remote and local block counts differ");
    }
    for (int id : localIds) {
      if (!memory.isValidBlock(id)) {
        return TransferResult.failed(TransferStatus.BAD_PARAMS, "no local block " + id);
      }
    }
    return withConnection(
        host,
        port,
        connection -> {
          boolean shm = useSharedMemory(host, port, connection);
          TransferResult result =
              shm
                  ? pullShared(host, port, connection, requestId, leaseToken, remoteIds, localIds)
                  : pullStream(connection, requestId, leaseToken, remoteIds, localIds);
          if (result.isOk() && shm) {
            // The lease stays pinned until we say we are done copying.
            TransferResult done =
                releaseAfter
                    ? exchangeRelease(connection, requestId, leaseToken)
                    : exchangeUnpin(connection, requestId);
            return done.isOk()
                ? result
                : new TransferResult(
                    TransferStatus.OK, "release failed: " + done.message(), result.bytes(), "shm");
          }
          if (result.isOk() && releaseAfter) {
            TransferResult done = exchangeRelease(connection, requestId, leaseToken);
            if (!done.isOk()) {
              return new TransferResult(
                  TransferStatus.OK, "release failed: " + done.message(), result.bytes(), "tcp");
            }
          }
          return result;
        });
  }

  /** Ends a lease without reading (a decode worker that had every block already). */
  public TransferResult release(String host, int port, String requestId, String leaseToken) {
    return withConnection(
        host, port, connection -> exchangeRelease(connection, requestId, leaseToken));
  }

  /** Whether this client would use shared memory with the peer that answered on this connection. */
  private boolean useSharedMemory(String host, int port, Connection connection) throws Failure {
    boolean possible = !connection.exportPath().isEmpty() && connection.peerHostId().equals(hostId);
    if (transport == Transport.TCP) {
      return false;
    }
    if (transport == Transport.SHM && !possible) {
      throw new Failure(
          TransferStatus.SHM_UNAVAILABLE,
          connection.exportPath().isEmpty()
              ? "the peer exports no shared memory"
              : "the peer is on another host");
    }
    if (!possible) {
      return false;
    }
    Mapping mapping = mapping(host + ":" + port, connection);
    if (mapping == null && transport == Transport.SHM) {
      throw new Failure(
          TransferStatus.SHM_UNAVAILABLE,
          "cannot map the peer's memory " + connection.exportPath());
    }
    return mapping != null;
  }

  private TransferResult pullStream(
      Connection connection, String requestId, String token, int[] remoteIds, int[] localIds)
      throws IOException, Failure {
    sendRead(connection, requestId, token, Wire.MODE_STREAM, remoteIds);
    ByteBuffer reply = Wire.readFrame(connection.channel());
    byte type = reply.get();
    if (type == Wire.ERROR) {
      return errorResult(reply);
    }
    if (type != Wire.READ_OK) {
      throw new Wire.ProtocolException("expected READ_OK, got " + type);
    }
    int count = Wire.getInt(reply);
    long blockBytes = Wire.getLong(reply);
    if (count != remoteIds.length || blockBytes != memory.blockBytes()) {
      throw new Wire.ProtocolException("READ_OK does not match the request");
    }
    ByteBuffer[] targets = new ByteBuffer[count];
    for (int i = 0; i < count; i++) {
      targets[i] = memory.block(localIds[i]).asByteBuffer();
    }
    long remaining = count * blockBytes;
    while (remaining > 0) {
      long n = connection.channel().read(targets);
      if (n < 0) {
        throw new java.io.EOFException("peer closed the connection mid-transfer");
      }
      remaining -= n;
    }
    return TransferResult.ok(count * blockBytes, "tcp");
  }

  private TransferResult pullShared(
      String host,
      int port,
      Connection connection,
      String requestId,
      String token,
      int[] remoteIds,
      int[] localIds)
      throws IOException, Failure {
    sendRead(connection, requestId, token, Wire.MODE_SHM, remoteIds);
    ByteBuffer reply = Wire.readFrame(connection.channel());
    byte type = reply.get();
    if (type == Wire.ERROR) {
      return errorResult(reply);
    }
    if (type != Wire.READ_OK) {
      throw new Wire.ProtocolException("expected READ_OK, got " + type);
    }
    int count = Wire.getInt(reply);
    long blockBytes = Wire.getLong(reply);
    if (count != remoteIds.length || blockBytes != memory.blockBytes()) {
      throw new Wire.ProtocolException("READ_OK does not match the request");
    }
    Mapping mapping = mapping(host + ":" + port, connection);
    if (mapping == null) {
      throw new Failure(TransferStatus.SHM_UNAVAILABLE, "the peer's memory mapping went away");
    }
    MemorySegment source = mapping.segment();
    long[] offsets = new long[count];
    for (int i = 0; i < count; i++) {
      offsets[i] = Wire.getLong(reply);
      if (offsets[i] < 0 || offsets[i] > source.byteSize() - blockBytes) {
        throw new Wire.ProtocolException("block offset outside the peer's memory");
      }
    }
    try {
      // Copy runs that are contiguous on both sides in one call: large copies take the
      // non-temporal memcpy path, which is far faster than block-sized ones (docs/PERFORMANCE.md).
      for (int i = 0; i < count; ) {
        int run = 1;
        while (i + run < count
            && offsets[i + run] == offsets[i] + run * blockBytes
            && localIds[i + run] == localIds[i] + run) {
          run++;
        }
        MemorySegment target = localRun(localIds[i], run);
        if (target != null) {
          MemorySegment.copy(source, offsets[i], target, 0, run * blockBytes);
        } else {
          for (int k = 0; k < run; k++) {
            MemorySegment.copy(
                source, offsets[i + k], memory.block(localIds[i + k]), 0, blockBytes);
          }
        }
        i += run;
      }
    } catch (IllegalStateException e) {
      throw new Failure(TransferStatus.CLOSED, "client closed during the copy");
    }
    return TransferResult.ok(count * blockBytes, "shm");
  }

  /**
   * One segment over local blocks {@code first .. first + count - 1} when they are adjacent in
   * memory (always so in a block-major pool), else null. Same scope as the blocks.
   */
  @SuppressWarnings("restricted")
  private MemorySegment localRun(int first, int count) {
    MemorySegment head = memory.block(first);
    if (count == 1) {
      return head;
    }
    MemorySegment last = memory.block(first + count - 1);
    if (last.address() != head.address() + (count - 1) * memory.blockBytes()) {
      return null;
    }
    return head.reinterpret(count * memory.blockBytes());
  }

  private void sendRead(
      Connection connection, String requestId, String token, byte mode, int[] remoteIds)
      throws IOException {
    Wire.FrameBuilder read =
        new Wire.FrameBuilder(Wire.READ)
            .putString(requestId)
            .putString(token)
            .putByte(mode)
            .putInt(remoteIds.length);
    for (int id : remoteIds) {
      read.putInt(id);
    }
    Wire.writeFully(connection.channel(), read.finish());
  }

  private TransferResult exchangeRelease(Connection connection, String requestId, String token)
      throws IOException {
    Wire.writeFully(
        connection.channel(),
        new Wire.FrameBuilder(Wire.RELEASE).putString(requestId).putString(token).finish());
    ByteBuffer reply = Wire.readFrame(connection.channel());
    byte type = reply.get();
    if (type == Wire.RELEASE_OK) {
      return TransferResult.ok(0, "");
    }
    if (type == Wire.ERROR) {
      return errorResult(reply);
    }
    throw new Wire.ProtocolException("expected RELEASE_OK, got " + type);
  }

  private TransferResult exchangeUnpin(Connection connection, String requestId) throws IOException {
    Wire.writeFully(
        connection.channel(), new Wire.FrameBuilder(Wire.UNPIN).putString(requestId).finish());
    ByteBuffer reply = Wire.readFrame(connection.channel());
    if (reply.get() != Wire.UNPIN_OK) {
      throw new Wire.ProtocolException("expected UNPIN_OK");
    }
    return TransferResult.ok(0, "");
  }

  private static TransferResult errorResult(ByteBuffer reply) throws Wire.ProtocolException {
    TransferStatus status = TransferStatus.fromCode(Wire.getByte(reply));
    return TransferResult.failed(status, Wire.getString(reply));
  }

  private interface Exchange {
    TransferResult run(Connection connection) throws IOException, Failure;
  }

  /**
   * Runs one exchange on a pooled or new connection under the deadline. A pooled connection that
   * turns out dead (the peer restarted) is retried once on a fresh one.
   */
  private TransferResult withConnection(String host, int port, Exchange exchange) {
    if (closed) {
      return TransferResult.failed(TransferStatus.CLOSED, "KV client is closed");
    }
    String peer = host + ":" + port;
    for (int attempt = 0; ; attempt++) {
      Deque<Connection> pool = idle.computeIfAbsent(peer, k -> new ConcurrentLinkedDeque<>());
      Connection pooled = pool.pollFirst();
      AtomicBoolean timedOut = new AtomicBoolean();
      SocketChannel[] current = new SocketChannel[1];
      ScheduledFuture<?> deadline =
          watchdog.schedule(
              () -> {
                timedOut.set(true);
                SocketChannel channel = current[0];
                if (channel != null) {
                  closeQuietly(channel);
                }
              },
              timeoutMillis,
              TimeUnit.MILLISECONDS);
      Connection connection = pooled;
      try {
        if (connection == null) {
          SocketChannel channel = SocketChannel.open();
          current[0] = channel;
          if (timedOut.get()) {
            closeQuietly(channel);
          }
          connection = connect(channel, host, port);
        } else {
          current[0] = connection.channel();
        }
        TransferResult result = exchange.run(connection);
        if (!deadline.cancel(false)) {
          closeQuietly(connection.channel());
          return TransferResult.failed(
              TransferStatus.TIMEOUT, "timed out after " + timeoutMillis + " ms");
        }
        if (pool.size() < MAX_IDLE_PER_PEER && !closed) {
          pool.addFirst(connection);
        } else {
          closeQuietly(connection.channel());
        }
        return result;
      } catch (Failure f) {
        deadline.cancel(false);
        if (connection != null) {
          closeQuietly(connection.channel());
        } else if (current[0] != null) {
          closeQuietly(current[0]);
        }
        return TransferResult.failed(f.status, f.getMessage());
      } catch (IOException | RuntimeException e) {
        deadline.cancel(false);
        if (current[0] != null) {
          closeQuietly(current[0]);
        }
        if (timedOut.get()) {
          return TransferResult.failed(
              TransferStatus.TIMEOUT,
              "timed out after " + timeoutMillis + " ms talking to " + peer);
        }
        if (pooled != null && attempt == 0) {
          continue; // a stale pooled connection: try once more on a fresh one
        }
        dropMapping(peer);
        TransferStatus status =
            e instanceof Wire.ProtocolException
                ? TransferStatus.PROTOCOL_ERROR
                : TransferStatus.PEER_UNREACHABLE;
        return TransferResult.failed(status, peer + ": " + e);
      }
    }
  }

  /** Connects and authenticates; a refusal by the server is a {@link Failure}. */
  private Connection connect(SocketChannel channel, String host, int port)
      throws IOException, Failure {
    channel.connect(new InetSocketAddress(host, port));
    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    ByteBuffer hello = Wire.readFrame(channel);
    byte type = hello.get();
    if (type == Wire.ERROR) {
      TransferResult refused = errorResult(hello);
      throw new Failure(refused.status(), refused.message());
    }
    if (type != Wire.HELLO || Wire.getInt(hello) != Wire.MAGIC) {
      throw new Failure(TransferStatus.PROTOCOL_ERROR, "the peer is not a Baton KV block server");
    }
    short version = Wire.getShort(hello);
    if (version != Wire.VERSION) {
      throw new Failure(
          TransferStatus.PROTOCOL_ERROR, "the peer speaks KV protocol version " + version);
    }
    byte[] serverNonce = Wire.getBytes(hello, Wire.NONCE_BYTES);
    byte[] clientNonce = new byte[Wire.NONCE_BYTES];
    random.nextBytes(clientNonce);
    byte[] layout = layoutKey.getBytes(StandardCharsets.UTF_8);
    Wire.writeFully(
        channel,
        new Wire.FrameBuilder(Wire.AUTH)
            .putBytes(clientNonce)
            .putBytes(Wire.hmac(secret, "baton-kv client", serverNonce, clientNonce, layout))
            .putString(layoutKey)
            .finish());
    ByteBuffer reply = Wire.readFrame(channel);
    type = reply.get();
    if (type == Wire.ERROR) {
      TransferResult refused = errorResult(reply);
      throw new Failure(refused.status(), refused.message());
    }
    if (type != Wire.AUTH_OK) {
      throw new Failure(TransferStatus.PROTOCOL_ERROR, "expected AUTH_OK, got " + type);
    }
    byte[] proof = Wire.getBytes(reply, 32);
    if (!MessageDigest.isEqual(
        proof, Wire.hmac(secret, "baton-kv server", clientNonce, serverNonce))) {
      throw new Failure(TransferStatus.AUTH_FAILED, "the server could not prove the secret");
    }
    String peerHostId = Wire.getString(reply);
    String exportPath = Wire.getString(reply);
    long blockBytes = Wire.getLong(reply);
    Wire.getInt(reply); // the server's block count: informational
    if (blockBytes != memory.blockBytes()) {
      throw new Failure(TransferStatus.LAYOUT_MISMATCH, "block sizes differ");
    }
    return new Connection(channel, peerHostId, exportPath, blockBytes);
  }

  /** The peer's memory mapped here, mapping it on first use; null when it cannot be mapped. */
  private Mapping mapping(String peer, Connection connection) {
    Mapping current = mappings.get(peer);
    if (current != null && current.path().equals(connection.exportPath())) {
      return current;
    }
    synchronized (mappings) {
      current = mappings.get(peer);
      if (current != null && current.path().equals(connection.exportPath())) {
        return current;
      }
      if (current != null) {
        mappings.remove(peer);
        current.arena().close(); // the peer restarted with new memory
      }
      Arena arena = Arena.ofShared();
      try (FileChannel file =
          FileChannel.open(Path.of(connection.exportPath()), StandardOpenOption.READ)) {
        MemorySegment segment = file.map(FileChannel.MapMode.READ_ONLY, 0, file.size(), arena);
        // Fault the page tables in now, once, rather than during the first pulls.
        segment.load();
        Mapping mapping = new Mapping(connection.exportPath(), arena, segment);
        mappings.put(peer, mapping);
        return mapping;
      } catch (IOException | RuntimeException e) {
        arena.close();
        return null;
      }
    }
  }

  private void dropMapping(String peer) {
    synchronized (mappings) {
      Mapping mapping = mappings.remove(peer);
      if (mapping != null) {
        mapping.arena().close();
      }
    }
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Already broken.
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Deque<Connection> pool : idle.values()) {
      for (Connection connection; (connection = pool.pollFirst()) != null; ) {
        closeQuietly(connection.channel());
      }
    }
    synchronized (mappings) {
      for (Mapping mapping : mappings.values()) {
        mapping.arena().close();
      }
      mappings.clear();
    }
    watchdog.shutdownNow();
  }
}
