package dev.baton.kv.p2p;

import dev.baton.kv.KvCacheView;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
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
  private final String identity;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Deque<PeerConnection>> idle = new ConcurrentHashMap<>();
  private final TcpPullChannel tcp;
  private final SharedMemoryPullChannel shm;
  private final DevicePullChannel device;
  private final ScheduledExecutorService watchdog;
  private volatile boolean closed;

  /**
   * @param identity this client's name in the handshake (the engine id)
   */
  public BlockClient(
      KvCacheView memory,
      byte[] secret,
      String layoutKey,
      Transport transport,
      Duration timeout,
      String identity) {
    this.identity = identity;
    this.memory = memory;
    this.secret = secret.clone();
    this.layoutKey = layoutKey;
    this.transport = transport;
    this.timeoutMillis = timeout.toMillis();
    this.tcp = new TcpPullChannel(memory);
    this.shm = new SharedMemoryPullChannel(memory);
    this.device = new DevicePullChannel(memory);
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
          String peer = host + ":" + port;
          boolean onDevice = useDeviceMemory(connection);
          boolean shared = onDevice || useSharedMemory(peer, connection);
          PullChannel channel = onDevice ? device : shared ? shm : tcp;
          TransferResult result =
              channel.pull(peer, connection, requestId, leaseToken, remoteIds, localIds);
          if (result.isOk() && shared) {
            // The lease stays pinned until we say we are done copying.
            TransferResult done =
                releaseAfter
                    ? exchangeRelease(connection, requestId, leaseToken)
                    : exchangeUnpin(connection, requestId);
            return done.isOk()
                ? result
                : new TransferResult(
                    TransferStatus.OK,
                    "release failed: " + done.message(),
                    result.bytes(),
                    result.path());
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

  /**
   * Whether this client copies device to device from the peer that answered on this connection:
   * both keep their KV in device memory, on this host, and the peer's memory opens here.
   */
  private boolean useDeviceMemory(PeerConnection connection) throws PullFailure {
    if (transport != Transport.AUTO && transport != Transport.DEVICE) {
      return false;
    }
    String why = null;
    if (memory.device().isEmpty()) {
      why = "this worker keeps no KV in device memory";
    } else if (connection.deviceExport().isEmpty()) {
      why = "the peer exports no device memory";
    } else if (!connection.peerHostId().equals(hostId)) {
      why = "the peer is on another host";
    } else if (!memory.device().get().canOpen(connection.deviceExport())) {
      why = "cannot open the peer's device memory here";
    }
    if (why != null && transport == Transport.DEVICE) {
      throw new PullFailure(TransferStatus.SHM_UNAVAILABLE, why);
    }
    return why == null;
  }

  /** Whether this client uses shared memory with the peer that answered on this connection. */
  private boolean useSharedMemory(String peer, PeerConnection connection) throws PullFailure {
    boolean possible = !connection.exportPath().isEmpty() && connection.peerHostId().equals(hostId);
    if (transport == Transport.TCP || transport == Transport.DEVICE) {
      return false;
    }
    if (transport == Transport.SHM && !possible) {
      throw new PullFailure(
          TransferStatus.SHM_UNAVAILABLE,
          connection.exportPath().isEmpty()
              ? "the peer exports no shared memory"
              : "the peer is on another host");
    }
    if (!possible) {
      return false;
    }
    boolean mapped = shm.canMap(peer, connection);
    if (!mapped && transport == Transport.SHM) {
      throw new PullFailure(
          TransferStatus.SHM_UNAVAILABLE,
          "cannot map the peer's memory " + connection.exportPath());
    }
    return mapped;
  }

  private TransferResult exchangeRelease(PeerConnection connection, String requestId, String token)
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
      return PullChannel.errorResult(reply);
    }
    throw new Wire.ProtocolException("expected RELEASE_OK, got " + type);
  }

  private TransferResult exchangeUnpin(PeerConnection connection, String requestId)
      throws IOException {
    Wire.writeFully(
        connection.channel(), new Wire.FrameBuilder(Wire.UNPIN).putString(requestId).finish());
    ByteBuffer reply = Wire.readFrame(connection.channel());
    if (reply.get() != Wire.UNPIN_OK) {
      throw new Wire.ProtocolException("expected UNPIN_OK");
    }
    return TransferResult.ok(0, "");
  }

  private interface Exchange {
    TransferResult run(PeerConnection connection) throws IOException, PullFailure;
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
      Deque<PeerConnection> pool = idle.computeIfAbsent(peer, k -> new ConcurrentLinkedDeque<>());
      PeerConnection pooled = pool.pollFirst();
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
      PeerConnection connection = pooled;
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
      } catch (PullFailure f) {
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
        shm.drop(peer);
        TransferStatus status =
            e instanceof Wire.ProtocolException
                ? TransferStatus.PROTOCOL_ERROR
                : TransferStatus.PEER_UNREACHABLE;
        return TransferResult.failed(status, peer + ": " + e);
      }
    }
  }

  /** Connects and authenticates; a refusal by the server is a {@link Failure}. */
  private PeerConnection connect(SocketChannel channel, String host, int port)
      throws IOException, PullFailure {
    channel.connect(new InetSocketAddress(host, port));
    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    ByteBuffer hello = Wire.readFrame(channel);
    byte type = hello.get();
    if (type == Wire.ERROR) {
      TransferResult refused = PullChannel.errorResult(hello);
      throw new PullFailure(refused.status(), refused.message());
    }
    if (type != Wire.HELLO || Wire.getInt(hello) != Wire.MAGIC) {
      throw new PullFailure(
          TransferStatus.PROTOCOL_ERROR, "the peer is not a Baton KV block server");
    }
    short version = Wire.getShort(hello);
    if (version != Wire.VERSION) {
      throw new PullFailure(
          TransferStatus.PROTOCOL_ERROR, "the peer speaks KV protocol version " + version);
    }
    byte[] serverNonce = Wire.getBytes(hello, Wire.NONCE_BYTES);
    String serverIdentity = Wire.getString(hello);
    byte[] clientNonce = new byte[Wire.NONCE_BYTES];
    random.nextBytes(clientNonce);
    // The MAC names the address we dialed: a relay at another address cannot use it on the
    // real server, which checks that the address is its own.
    Wire.Transcript transcript =
        new Wire.Transcript()
            .add(Wire.MAGIC)
            .add(Wire.VERSION)
            .add(serverNonce)
            .add(serverIdentity)
            .add(clientNonce)
            .add(identity)
            .add(host)
            .add(port)
            .add(layoutKey);
    Wire.writeFully(
        channel,
        new Wire.FrameBuilder(Wire.AUTH)
            .putBytes(clientNonce)
            .putString(identity)
            .putString(host)
            .putInt(port)
            .putString(layoutKey)
            .putBytes(transcript.mac(secret, Wire.CLIENT_MAC))
            .finish());
    ByteBuffer reply = Wire.readFrame(channel);
    type = reply.get();
    if (type == Wire.ERROR) {
      TransferResult refused = PullChannel.errorResult(reply);
      throw new PullFailure(refused.status(), refused.message());
    }
    if (type != Wire.AUTH_OK) {
      throw new PullFailure(TransferStatus.PROTOCOL_ERROR, "expected AUTH_OK, got " + type);
    }
    String peerHostId = Wire.getString(reply);
    String exportPath = Wire.getString(reply);
    String deviceExport = Wire.getString(reply);
    long blockBytes = Wire.getLong(reply);
    int serverBlocks = Wire.getInt(reply);
    byte[] proof = Wire.getBytes(reply, 32);
    transcript.add(peerHostId).add(exportPath).add(deviceExport).add(blockBytes).add(serverBlocks);
    // Everything the server stated (host id, exported memory, layout) is covered by its proof.
    if (!MessageDigest.isEqual(proof, transcript.mac(secret, Wire.SERVER_MAC))) {
      throw new PullFailure(TransferStatus.AUTH_FAILED, "the server could not prove the secret");
    }
    if (blockBytes != memory.blockBytes()) {
      throw new PullFailure(TransferStatus.LAYOUT_MISMATCH, "block sizes differ");
    }
    return new PeerConnection(
        channel, peerHostId, exportPath, deviceExport, blockBytes, serverBlocks);
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
    for (Deque<PeerConnection> pool : idle.values()) {
      for (PeerConnection connection; (connection = pool.pollFirst()) != null; ) {
        closeQuietly(connection.channel());
      }
    }
    shm.close();
    watchdog.shutdownNow();
  }
}
