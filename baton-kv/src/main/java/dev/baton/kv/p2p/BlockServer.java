package dev.baton.kv.p2p;

import dev.baton.kv.DeviceKvMemory;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The producer side of the transfer channel: serves leased KV blocks to authenticated peers. Every
 * connection first proves it knows the cluster secret with a MAC over the whole handshake
 * transcript, which names the address the client dialed: a relay at another address cannot pass a
 * client's proof on (docs/SECURITY.md). The server's answer, with everything it states about
 * itself, is MACed the same way. Then the peer may read blocks of a live lease whose request id and
 * token it presents, and release that lease. Block bytes go straight from the off-heap memory to
 * the socket in one gathering write per message, or, for a same-host peer, the peer copies them out
 * of the exported shared-memory file while the lease stays pinned.
 *
 * <p>Misbehaving peers get an error frame or a closed connection; the server keeps serving.
 */
public final class BlockServer implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(BlockServer.class.getName());

  /**
   * @param bindHost address to listen on
   * @param port port, 0 for a free one
   * @param exportSharedMemory offer same-host peers the memory's shared file and its device memory
   *     (when it has them)
   * @param handshakeTimeout how long an unauthenticated connection may take to prove itself
   * @param maxConnections authenticated connections served at once; more are refused with BUSY
   * @param maxPendingHandshakes unauthenticated connections held at once; a new one beyond this
   *     closes the oldest, so silent connections cannot keep real peers out
   * @param identity this server's name in the handshake (the engine id)
   * @param advertisedHost the host decode workers are told to dial (also counts as ours)
   */
  public record Options(
      String bindHost,
      int port,
      boolean exportSharedMemory,
      Duration handshakeTimeout,
      int maxConnections,
      int maxPendingHandshakes,
      String identity,
      String advertisedHost) {

    public static Options loopback() {
      return new Options(
          "127.0.0.1", 0, true, Duration.ofSeconds(2), 256, 64, "test-server", "127.0.0.1");
    }
  }

  private final KvCacheView memory;
  private final LeaseTable leases;
  private final byte[] secret;
  private final String layoutKey;
  private final Options options;
  private final String hostId = Wire.hostId();
  private final String exportPath;
  private final String deviceExport;
  private final ServerSocketChannel server;
  private final Thread acceptor;
  private final ScheduledExecutorService watchdog;
  private final SecureRandom random = new SecureRandom();
  private final AtomicInteger connections = new AtomicInteger();
  private final java.util.concurrent.ConcurrentLinkedDeque<SocketChannel> pending =
      new java.util.concurrent.ConcurrentLinkedDeque<>();
  private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger authFailures = new AtomicInteger();
  private volatile boolean closed;

  public BlockServer(
      KvCacheView memory, LeaseTable leases, byte[] secret, String layoutKey, Options options)
      throws IOException {
    this.memory = memory;
    this.leases = leases;
    this.secret = secret.clone();
    this.layoutKey = layoutKey;
    this.options = options;
    this.exportPath =
        options.exportSharedMemory()
            ? memory.sharedFile().map(java.nio.file.Path::toString).orElse("")
            : "";
    this.deviceExport =
        options.exportSharedMemory()
            ? memory.device().map(DeviceKvMemory::exportName).orElse("")
            : "";
    this.server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress(options.bindHost(), options.port()), 512);
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-kv-server-watchdog");
              t.setDaemon(true);
              return t;
            });
    this.acceptor = Thread.ofPlatform().daemon().name("baton-kv-accept").unstarted(this::accept);
    acceptor.start();
  }

  /** Where the server listens (the port is the real one when 0 was asked for). */
  public InetSocketAddress address() {
    try {
      return (InetSocketAddress) server.getLocalAddress();
    } catch (IOException e) {
      throw new IllegalStateException("block server is closed", e);
    }
  }

  /** Connections refused because their secret was wrong (a metric). */
  public int authFailures() {
    return authFailures.get();
  }

  /** Whether same-host peers may map our memory. */
  public boolean exportsSharedMemory() {
    return !exportPath.isEmpty();
  }

  private void accept() {
    while (!closed) {
      SocketChannel channel;
      try {
        channel = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        LOG.log(Level.WARNING, "accept failed", e);
        continue;
      }
      pending.addLast(channel);
      while (pending.size() > options.maxPendingHandshakes()) {
        SocketChannel oldest = pending.pollFirst();
        if (oldest != null) {
          closeQuietly(oldest); // still silent: it loses its place to the newcomer
        }
      }
      open.add(channel);
      Thread.ofVirtual().name("baton-kv-conn").start(() -> serve(channel));
    }
  }

  private void serve(SocketChannel channel) {
    List<LeaseTable.Lease> pins = new ArrayList<>();
    boolean counted = false;
    try {
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      boolean authenticated;
      try {
        authenticated = handshake(channel);
      } finally {
        pending.remove(channel);
      }
      if (!authenticated) {
        return;
      }
      counted = true;
      if (connections.incrementAndGet() > options.maxConnections()) {
        Wire.writeFully(channel, error(TransferStatus.BUSY, "too many connections"));
        return;
      }
      while (!closed) {
        ByteBuffer frame;
        try {
          frame = Wire.readFrame(channel);
        } catch (java.io.EOFException e) {
          return; // the peer hung up between messages: normal
        }
        byte type = frame.get();
        switch (type) {
          case Wire.READ -> read(channel, frame, pins);
          case Wire.UNPIN -> unpin(channel, frame, pins);
          case Wire.RELEASE -> release(channel, frame, pins);
          default -> throw new Wire.ProtocolException("unexpected frame type " + type);
        }
      }
    } catch (Wire.ProtocolException e) {
      LOG.log(Level.DEBUG, "closing a connection that broke the protocol: {0}", e.getMessage());
    } catch (IOException e) {
      LOG.log(Level.DEBUG, "connection ended: {0}", e.toString());
    } finally {
      for (LeaseTable.Lease lease : pins) {
        leases.unpin(lease);
      }
      open.remove(channel);
      try {
        channel.close();
      } catch (IOException ignored) {
        // Closing a broken socket may fail; it is closed either way.
      }
      if (counted) {
        connections.decrementAndGet();
      }
    }
  }

  /** Mutual HMAC challenge-response and layout check; false when the peer was turned away. */
  private boolean handshake(SocketChannel channel) throws IOException {
    ScheduledFuture<?> deadline =
        watchdog.schedule(
            () -> closeQuietly(channel),
            options.handshakeTimeout().toMillis(),
            TimeUnit.MILLISECONDS);
    try {
      byte[] serverNonce = new byte[Wire.NONCE_BYTES];
      random.nextBytes(serverNonce);
      Wire.writeFully(
          channel,
          new Wire.FrameBuilder(Wire.HELLO)
              .putInt(Wire.MAGIC)
              .putShort(Wire.VERSION)
              .putBytes(serverNonce)
              .putString(options.identity())
              .finish());
      ByteBuffer auth = Wire.readFrame(channel);
      if (auth.get() != Wire.AUTH) {
        throw new Wire.ProtocolException("expected AUTH");
      }
      byte[] clientNonce = Wire.getBytes(auth, Wire.NONCE_BYTES);
      String clientIdentity = Wire.getString(auth);
      String dialedHost = Wire.getString(auth);
      int dialedPort = Wire.getInt(auth);
      String peerLayout = Wire.getString(auth);
      byte[] proof = Wire.getBytes(auth, 32);
      Wire.Transcript transcript =
          new Wire.Transcript()
              .add(Wire.MAGIC)
              .add(Wire.VERSION)
              .add(serverNonce)
              .add(options.identity())
              .add(clientNonce)
              .add(clientIdentity)
              .add(dialedHost)
              .add(dialedPort)
              .add(peerLayout);
      if (!MessageDigest.isEqual(transcript.mac(secret, Wire.CLIENT_MAC), proof)) {
        authFailures.incrementAndGet();
        LOG.log(Level.WARNING, "KV peer {0} failed authentication", channel.getRemoteAddress());
        Wire.writeFully(channel, error(TransferStatus.AUTH_FAILED, "authentication failed"));
        return false;
      }
      if (!isOurAddress(dialedHost, dialedPort)) {
        // The proof is genuine but was made for someone else: a relay passing it on.
        authFailures.incrementAndGet();
        LOG.log(
            Level.WARNING,
            "KV peer {0} presented a proof made for {1}:{2}, not this server (a relay?)",
            channel.getRemoteAddress(),
            dialedHost,
            dialedPort);
        Wire.writeFully(
            channel,
            error(
                TransferStatus.AUTH_FAILED, "the client dialed another address than this server"));
        return false;
      }
      if (!peerLayout.equals(layoutKey)) {
        Wire.writeFully(
            channel,
            error(
                TransferStatus.LAYOUT_MISMATCH,
                "KV layouts differ: server has '"
                    + layoutKey
                    + "', client has '"
                    + peerLayout
                    + "'"));
        return false;
      }
      transcript
          .add(hostId)
          .add(exportPath)
          .add(deviceExport)
          .add(memory.blockBytes())
          .add(memory.numBlocks());
      Wire.writeFully(
          channel,
          new Wire.FrameBuilder(Wire.AUTH_OK)
              .putString(hostId)
              .putString(exportPath)
              .putString(deviceExport)
              .putLong(memory.blockBytes())
              .putInt(memory.numBlocks())
              .putBytes(transcript.mac(secret, Wire.SERVER_MAC))
              .finish());
      return true;
    } finally {
      deadline.cancel(false);
    }
  }

  private void read(SocketChannel channel, ByteBuffer frame, List<LeaseTable.Lease> pins)
      throws IOException {
    String requestId = Wire.getString(frame);
    String token = Wire.getString(frame);
    byte mode = Wire.getByte(frame);
    int count = Wire.getInt(frame);
    if (count < 0 || count > frame.remaining() / 4) {
      throw new Wire.ProtocolException("bad block count " + count);
    }
    int[] ids = new int[count];
    for (int i = 0; i < count; i++) {
      ids[i] = frame.getInt();
      if (!memory.isValidBlock(ids[i])) {
        Wire.writeFully(channel, error(TransferStatus.BAD_REQUEST, "no block " + ids[i]));
        return;
      }
    }
    if (mode == Wire.MODE_SHM && exportPath.isEmpty()) {
      Wire.writeFully(
          channel, error(TransferStatus.SHM_UNAVAILABLE, "this server exports no shared memory"));
      return;
    }
    if (mode == Wire.MODE_DEVICE && deviceExport.isEmpty()) {
      Wire.writeFully(
          channel, error(TransferStatus.SHM_UNAVAILABLE, "this server exports no device memory"));
      return;
    }
    TransferStatus[] status = new TransferStatus[1];
    LeaseTable.Lease lease = leases.pin(requestId, token, ids, status);
    if (lease == null) {
      Wire.writeFully(channel, error(status[0], describe(status[0], requestId)));
      return;
    }
    if (mode == Wire.MODE_SHM || mode == Wire.MODE_DEVICE) {
      // Same offsets in the shared file and in device memory (block i at i * blockBytes).
      pins.add(lease); // unpinned by UNPIN, RELEASE or the connection's end
      Wire.FrameBuilder ok =
          new Wire.FrameBuilder(Wire.READ_OK).putInt(count).putLong(memory.blockBytes());
      for (int id : ids) {
        ok.putLong(id * memory.blockBytes());
      }
      Wire.writeFully(channel, ok.finish());
      return;
    }
    try {
      ByteBuffer[] buffers = new ByteBuffer[count + 1];
      buffers[0] =
          new Wire.FrameBuilder(Wire.READ_OK).putInt(count).putLong(memory.blockBytes()).finish();
      for (int i = 0; i < count; i++) {
        buffers[i + 1] = memory.block(ids[i]).asByteBuffer();
      }
      Wire.writeFully(channel, buffers);
    } finally {
      leases.unpin(lease);
    }
  }

  private void unpin(SocketChannel channel, ByteBuffer frame, List<LeaseTable.Lease> pins)
      throws IOException {
    String requestId = Wire.getString(frame);
    dropPins(requestId, pins);
    Wire.writeFully(channel, new Wire.FrameBuilder(Wire.UNPIN_OK).finish());
  }

  private void release(SocketChannel channel, ByteBuffer frame, List<LeaseTable.Lease> pins)
      throws IOException {
    String requestId = Wire.getString(frame);
    String token = Wire.getString(frame);
    dropPins(requestId, pins);
    if (leases.release(requestId, token)) {
      Wire.writeFully(channel, new Wire.FrameBuilder(Wire.RELEASE_OK).finish());
    } else {
      Wire.writeFully(
          channel,
          error(
              TransferStatus.LEASE_NOT_FOUND, describe(TransferStatus.LEASE_NOT_FOUND, requestId)));
    }
  }

  private void dropPins(String requestId, List<LeaseTable.Lease> pins) {
    for (var it = pins.iterator(); it.hasNext(); ) {
      LeaseTable.Lease lease = it.next();
      if (lease.requestId.equals(requestId)) {
        it.remove();
        leases.unpin(lease);
      }
    }
  }

  /**
   * Whether a client that dialed {@code host:port} meant this server: our port, and a host that is
   * the advertised one or resolves to an address of this machine.
   */
  private boolean isOurAddress(String host, int port) {
    if (port != address().getPort()) {
      return false;
    }
    if (host.equalsIgnoreCase(options.advertisedHost())
        || host.equalsIgnoreCase(options.bindHost())) {
      return true;
    }
    try {
      for (java.net.InetAddress a : java.net.InetAddress.getAllByName(host)) {
        if (a.isLoopbackAddress()
            || a.isAnyLocalAddress()
            || java.net.NetworkInterface.getByInetAddress(a) != null) {
          return true;
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  private static String describe(TransferStatus status, String requestId) {
    return switch (status) {
      case LEASE_NOT_FOUND ->
          "no live lease for request "
              + requestId
              + " with that token (unknown, released or expired)";
      case BLOCK_NOT_IN_LEASE ->
          "a requested block is not part of request " + requestId + "'s lease";
      default -> status.name();
    };
  }

  private static ByteBuffer error(TransferStatus status, String message) {
    return new Wire.FrameBuilder(Wire.ERROR)
        .putByte((byte) status.code())
        .putString(message.length() > 1000 ? message.substring(0, 1000) : message)
        .finish();
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Already broken.
    }
  }

  /** Stops accepting, closes every connection (their pins drop), and stops the watchdog. */
  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // Closing a listening socket does not fail in practice.
    }
    for (SocketChannel channel : open) {
      closeQuietly(channel);
    }
    watchdog.shutdownNow();
    try {
      acceptor.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
