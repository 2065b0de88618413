package dev.baton.kv.p2p;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.baton.kv.KvCacheView;
import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every transport of the block channel must do, whatever carries the bytes: exact copies of
 * many blocks in one message, no reads without the secret or with another request's lease, lease
 * release and expiry, concurrent pulls. Subclasses pick the transport.
 */
abstract class TransferContract {

  static final byte[] SECRET = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
  static final String LAYOUT = "model=test;bs=16;dtype=F16";
  static final int BLOCKS = 64;
  static final long BLOCK_BYTES = 8192 + 64; // not a power of two: offsets must still be right

  OffHeapBlockMemory serverMemory;
  OffHeapBlockMemory clientMemory;
  LeaseTable leases;
  BlockServer server;
  BlockClient client;
  final Map<String, LeaseTable.End> freed = new ConcurrentHashMap<>();

  /** The transport under test (forced, so a silent fallback would fail the path check). */
  abstract Transport transport();

  /** What {@link TransferResult#path()} must say. */
  abstract String expectedPath();

  /** Server memory suitable for the transport. */
  abstract OffHeapBlockMemory newServerMemory();

  long leaseMillis() {
    return 30_000;
  }

  @BeforeEach
  void start() throws IOException {
    serverMemory = newServerMemory();
    clientMemory = OffHeapBlockMemory.allocate(BLOCKS, 16, BLOCK_BYTES, "test");
    fillRandom(serverMemory, 42);
    leases = new LeaseTable(leaseMillis(), freed::put);
    server =
        new BlockServer(
            serverView(serverMemory), leases, SECRET, LAYOUT, BlockServer.Options.loopback());
    client = newClient(SECRET, LAYOUT, Duration.ofSeconds(5));
  }

  @AfterEach
  void stop() {
    client.close();
    server.close();
    leases.close();
    serverMemory.close();
    clientMemory.close();
  }

  BlockClient newClient(byte[] secret, String layout, Duration timeout) {
    return new BlockClient(
        clientView(clientMemory), secret, layout, transport(), timeout, "test-client");
  }

  /** A pull from a server other than the fixture's, and the leases that server still holds. */
  record OtherServerPull(TransferResult result, int leasesLeft) {}

  /**
   * The fixture's client pulls block 1 (into local block 0) from a fresh server over {@code
   * memory}, seen as is (no device side), with a lease of its own.
   */
  OtherServerPull pullFromAnotherServer(OffHeapBlockMemory memory) throws IOException {
    try (LeaseTable otherLeases = new LeaseTable(30_000, (id, end) -> {});
        BlockServer other =
            new BlockServer(memory, otherLeases, SECRET, LAYOUT, BlockServer.Options.loopback())) {
      String token = otherLeases.grant("req", new int[] {1});
      TransferResult result =
          client.pull(
              "127.0.0.1",
              other.address().getPort(),
              "req",
              token,
              new int[] {1},
              new int[] {0},
              true);
      return new OtherServerPull(result, otherLeases.size());
    }
  }

  /** How the server sees its memory (a transport may add a device side). */
  KvCacheView serverView(OffHeapBlockMemory memory) {
    return memory;
  }

  /** How the client sees its memory. */
  KvCacheView clientView(OffHeapBlockMemory memory) {
    return memory;
  }

  int port() {
    return server.address().getPort();
  }

  @Test
  void pullsManyBlocksInOneMessageByteExact() {
    int[] remote = {3, 17, 1, 40, 63, 0, 22};
    int[] local = {10, 11, 12, 13, 14, 15, 16};
    String token = leases.grant("req-1", remote);

    TransferResult result = client.pull("127.0.0.1", port(), "req-1", token, remote, local, false);

    assertThat(result.status()).isEqualTo(TransferStatus.OK);
    assertThat(result.path()).isEqualTo(expectedPath());
    assertThat(result.bytes()).isEqualTo(remote.length * BLOCK_BYTES);
    for (int i = 0; i < remote.length; i++) {
      assertSameBlock(remote[i], local[i]);
    }
    assertThat(isZero(clientMemory.block(9))).isTrue();
    assertThat(leases.size()).isEqualTo(1); // not released: the lease lives on
  }

  @Test
  void pullsASubsetOfTheLease() {
    int[] leased = {5, 6, 7, 8};
    String token = leases.grant("req-sub", leased);
    TransferResult result =
        client.pull(
            "127.0.0.1", port(), "req-sub", token, new int[] {7, 8}, new int[] {0, 1}, true);
    assertThat(result.isOk()).isTrue();
    assertSameBlock(7, 0);
    assertSameBlock(8, 1);
  }

  @Test
  void clientWithoutTheSecretReadsNothingAndServerKeepsServing() {
    int[] remote = {2, 4};
    String token = leases.grant("req-a", remote);
    byte[] wrong = "not the cluster secret at all!!".getBytes(StandardCharsets.UTF_8);
    try (BlockClient intruder = newClient(wrong, LAYOUT, Duration.ofSeconds(5))) {
      TransferResult result =
          intruder.pull("127.0.0.1", port(), "req-a", token, remote, new int[] {0, 1}, true);
      assertThat(result.status()).isEqualTo(TransferStatus.AUTH_FAILED);
      assertThat(result.bytes()).isZero();
    }
    assertThat(isZero(clientMemory.block(0))).isTrue();
    assertThat(isZero(clientMemory.block(1))).isTrue();
    assertThat(server.authFailures()).isEqualTo(1);
    assertThat(leases.size()).isEqualTo(1); // the intruder's release did nothing

    TransferResult honest =
        client.pull("127.0.0.1", port(), "req-a", token, remote, new int[] {0, 1}, true);
    assertThat(honest.isOk()).isTrue();
    assertSameBlock(2, 0);
  }

  @Test
  void anotherRequestsIdOrTokenReadsNothing() {
    String tokenA = leases.grant("req-a", new int[] {1, 2});
    String tokenB = leases.grant("req-b", new int[] {3, 4});

    // B's token with A's id, and A's id with a made-up token.
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-a", tokenB, new int[] {1}, new int[] {0}, false)
                .status())
        .isEqualTo(TransferStatus.LEASE_NOT_FOUND);
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-a", "guess", new int[] {1}, new int[] {0}, false)
                .status())
        .isEqualTo(TransferStatus.LEASE_NOT_FOUND);
    // B's own lease, but asking for A's blocks.
    assertThat(
            client
                .pull(
                    "127.0.0.1", port(), "req-b", tokenB, new int[] {1, 3}, new int[] {0, 1}, false)
                .status())
        .isEqualTo(TransferStatus.BLOCK_NOT_IN_LEASE);
    // Releasing someone else's lease does not work either.
    assertThat(client.release("127.0.0.1", port(), "req-a", tokenB).status())
        .isEqualTo(TransferStatus.LEASE_NOT_FOUND);
    assertThat(isZero(clientMemory.block(0))).isTrue();
    assertThat(isZero(clientMemory.block(1))).isTrue();
    assertThat(freed).isEmpty();

    assertThat(
            client
                .pull("127.0.0.1", port(), "req-a", tokenA, new int[] {1}, new int[] {0}, true)
                .isOk())
        .isTrue();
    assertSameBlock(1, 0);
  }

  @Test
  void releaseFreesTheBlocksAndEndsTheLease() {
    int[] remote = {9, 10};
    String token = leases.grant("req-r", remote);
    assertThat(
            client.pull("127.0.0.1", port(), "req-r", token, remote, new int[] {0, 1}, true).isOk())
        .isTrue();
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> freed.get("req-r") == LeaseTable.End.RELEASED);
    assertThat(leases.size()).isZero();
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-r", token, remote, new int[] {2, 3}, false)
                .status())
        .isEqualTo(TransferStatus.LEASE_NOT_FOUND);
  }

  @Test
  void releaseWithoutReading() {
    String token = leases.grant("req-x", new int[] {5});
    assertThat(client.release("127.0.0.1", port(), "req-x", token).isOk()).isTrue();
    assertThat(freed).containsEntry("req-x", LeaseTable.End.RELEASED);
  }

  @Test
  void layoutMismatchIsRefused() {
    String token = leases.grant("req-l", new int[] {1});
    try (BlockClient other =
        newClient(SECRET, "model=other;bs=16;dtype=F32", Duration.ofSeconds(5))) {
      TransferResult result =
          other.pull("127.0.0.1", port(), "req-l", token, new int[] {1}, new int[] {0}, false);
      assertThat(result.status()).isEqualTo(TransferStatus.LAYOUT_MISMATCH);
      assertThat(result.message()).contains("model=other");
    }
    assertThat(isZero(clientMemory.block(0))).isTrue();
  }

  @Test
  void garbageOnTheWireDoesNotHurtTheServer() throws IOException {
    try (SocketChannel raw = SocketChannel.open(new InetSocketAddress("127.0.0.1", port()))) {
      ByteBuffer hello = ByteBuffer.allocate(64);
      raw.read(hello);
      ByteBuffer junk = ByteBuffer.allocate(16);
      junk.putInt(Integer.MAX_VALUE).putLong(0xdeadbeefL).putInt(7).flip();
      raw.write(junk);
    }
    try (SocketChannel raw = SocketChannel.open(new InetSocketAddress("127.0.0.1", port()))) {
      raw.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 3, Wire.READ, 1, 2}));
    }
    String token = leases.grant("req-g", new int[] {12});
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-g", token, new int[] {12}, new int[] {0}, true)
                .isOk())
        .isTrue();
    assertSameBlock(12, 0);
  }

  @Test
  void manyConcurrentPullsAllByteExact() throws Exception {
    int requests = 48;
    List<String> tokens = new ArrayList<>();
    for (int r = 0; r < requests; r++) {
      tokens.add(leases.grant("req-" + r, new int[] {r % BLOCKS, (r + 1) % BLOCKS}));
    }
    try (OffHeapBlockMemory wide =
            OffHeapBlockMemory.allocate(requests * 2, 16, BLOCK_BYTES, "test");
        BlockClient wideClient =
            new BlockClient(
                clientView(wide),
                SECRET,
                LAYOUT,
                transport(),
                Duration.ofSeconds(10),
                "test-client");
        ExecutorService pool = Executors.newFixedThreadPool(12)) {
      List<Future<TransferResult>> results = new ArrayList<>();
      for (int r = 0; r < requests; r++) {
        int req = r;
        results.add(
            pool.submit(
                () ->
                    wideClient.pull(
                        "127.0.0.1",
                        port(),
                        "req-" + req,
                        tokens.get(req),
                        new int[] {req % BLOCKS, (req + 1) % BLOCKS},
                        new int[] {2 * req, 2 * req + 1},
                        true)));
      }
      for (int r = 0; r < requests; r++) {
        TransferResult result = results.get(r).get();
        assertThat(result.isOk()).as(result.message()).isTrue();
        assertThat(wide.block(2 * r).mismatch(serverMemory.block(r % BLOCKS))).isEqualTo(-1);
        assertThat(wide.block(2 * r + 1).mismatch(serverMemory.block((r + 1) % BLOCKS)))
            .isEqualTo(-1);
      }
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> freed.size() == requests);
    assertThat(leases.size()).isZero();
  }

  @Test
  void goneServerIsAResultNotAnException() throws IOException {
    int deadPort;
    try (ServerSocket probe = new ServerSocket(0)) {
      deadPort = probe.getLocalPort();
    }
    TransferResult result =
        client.pull("127.0.0.1", deadPort, "req", "token", new int[] {1}, new int[] {0}, true);
    assertThat(result.status()).isEqualTo(TransferStatus.PEER_UNREACHABLE);
  }

  @Test
  void silentPeerTimesOut() throws IOException {
    try (ServerSocket silent = new ServerSocket(0);
        BlockClient quick = newClient(SECRET, LAYOUT, Duration.ofMillis(300))) {
      TransferResult result =
          quick.pull(
              "127.0.0.1",
              silent.getLocalPort(),
              "req",
              "token",
              new int[] {1},
              new int[] {0},
              true);
      assertThat(result.status()).isEqualTo(TransferStatus.TIMEOUT);
    }
  }

  @Test
  void pooledConnectionSurvivesAServerRestart() throws IOException {
    String token = leases.grant("req-1", new int[] {1});
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-1", token, new int[] {1}, new int[] {0}, true)
                .isOk())
        .isTrue();
    int oldPort = port();
    server.close();
    server =
        new BlockServer(
            serverView(serverMemory),
            leases,
            SECRET,
            LAYOUT,
            new BlockServer.Options(
                "127.0.0.1",
                oldPort,
                true,
                Duration.ofSeconds(5),
                16,
                64,
                "test-server",
                "127.0.0.1"));
    String token2 = leases.grant("req-2", new int[] {2});
    TransferResult result =
        client.pull("127.0.0.1", oldPort, "req-2", token2, new int[] {2}, new int[] {1}, true);
    assertThat(result.isOk()).as(result.message()).isTrue();
    assertSameBlock(2, 1);
  }

  void assertSameBlock(int serverBlock, int clientBlock) {
    assertThat(clientMemory.block(clientBlock).mismatch(serverMemory.block(serverBlock)))
        .as("client block %d vs server block %d", clientBlock, serverBlock)
        .isEqualTo(-1);
  }

  static boolean isZero(MemorySegment block) {
    for (long i = 0; i < block.byteSize(); i += 8) {
      if (block.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
        return false;
      }
    }
    return true;
  }

  static void fillRandom(KvCacheView memory, long seed) {
    Random random = new Random(seed);
    for (int b = 0; b < memory.numBlocks(); b++) {
      MemorySegment block = memory.block(b);
      for (long i = 0; i + 8 <= block.byteSize(); i += 8) {
        block.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong() | 1);
      }
    }
  }

  // ---- attacks on the channel (docs/SECURITY.md) ----

  /**
   * A relay at another address forwards bytes both ways between a decode worker and the real
   * server. The client's proof names the relay's address, so the server refuses it, and no byte of
   * a leased block reaches the client.
   */
  @Test
  void aRelayCannotPassAClientsProofOnToTheServer() throws Exception {
    String token = leases.grant("req-relay", new int[] {5});
    try (Relay relay = new Relay(port())) {
      TransferResult result =
          client.pull(
              "127.0.0.1", relay.port(), "req-relay", token, new int[] {5}, new int[] {3}, true);
      assertThat(result.isOk()).isFalse();
      assertThat(result.status()).isEqualTo(TransferStatus.AUTH_FAILED);
    }
    assertThat(isZero(clientMemory.block(3))).isTrue();
    assertThat(server.authFailures()).isEqualTo(1);
    // The lease is untouched: the real decode worker can still pull it.
    assertThat(
            client
                .pull("127.0.0.1", port(), "req-relay", token, new int[] {5}, new int[] {3}, true)
                .isOk())
        .isTrue();
  }

  /**
   * A server without the secret that answers the handshake with made-up statements (its host id,
   * the file it exports) is refused: the client checks the server's MAC over all of them.
   */
  @Test
  void aServerThatCannotProveTheSecretIsRefused() throws Exception {
    try (java.net.ServerSocket fake = new java.net.ServerSocket()) {
      fake.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      Thread impostor =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try (java.net.Socket s = fake.accept()) {
                      java.io.OutputStream out = s.getOutputStream();
                      byte[] nonce = new byte[Wire.NONCE_BYTES];
                      out.write(
                          frameBytes(
                              new Wire.FrameBuilder(Wire.HELLO)
                                  .putInt(Wire.MAGIC)
                                  .putShort(Wire.VERSION)
                                  .putBytes(nonce)
                                  .putString("impostor")
                                  .finish()));
                      s.getInputStream().read(new byte[4096]); // the client's AUTH
                      out.write(
                          frameBytes(
                              new Wire.FrameBuilder(Wire.AUTH_OK)
                                  .putString(Wire.hostId())
                                  .putString("/dev/shm/planted")
                                  .putString("cuda-ipc:planted")
                                  .putLong(BLOCK_BYTES)
                                  .putInt(BLOCKS)
                                  .putBytes(new byte[32])
                                  .finish()));
                      out.flush();
                      s.getInputStream().read(new byte[4096]);
                    } catch (IOException e) {
                      // the client hung up, as it should
                    }
                  });
      TransferResult result =
          client.pull(
              "127.0.0.1",
              fake.getLocalPort(),
              "req-x",
              "token",
              new int[] {1},
              new int[] {1},
              true);
      assertThat(result.status()).isEqualTo(TransferStatus.AUTH_FAILED);
      assertThat(isZero(clientMemory.block(1))).isTrue();
      impostor.join(5000);
    }
  }

  /**
   * Hundreds of connections that never say a word must not keep real peers out: unauthenticated
   * connections have their own small pool, the oldest make way, and none counts against the
   * authenticated connections.
   */
  @Test
  void silentConnectionsDoNotStarveRealPulls() throws Exception {
    List<java.nio.channels.SocketChannel> silent = new ArrayList<>();
    try {
      for (int i = 0; i < 300; i++) {
        silent.add(
            java.nio.channels.SocketChannel.open(
                new java.net.InetSocketAddress("127.0.0.1", port())));
      }
      String token = leases.grant("req-flood", new int[] {7});
      TransferResult result =
          client.pull("127.0.0.1", port(), "req-flood", token, new int[] {7}, new int[] {2}, true);
      assertThat(result.isOk()).as(result.message()).isTrue();
      assertSameBlock(7, 2);
    } finally {
      for (var c : silent) {
        c.close();
      }
    }
  }

  private static byte[] frameBytes(java.nio.ByteBuffer frame) {
    byte[] out = new byte[frame.remaining()];
    frame.get(out);
    return out;
  }

  /** Forwards bytes between a client and a target port, both ways, unchanged. */
  static final class Relay implements AutoCloseable {
    private final java.net.ServerSocket socket = new java.net.ServerSocket();
    private final List<java.net.Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>();

    Relay(int targetPort) throws IOException {
      socket.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      Thread.ofVirtual()
          .start(
              () -> {
                while (!socket.isClosed()) {
                  try {
                    java.net.Socket in = socket.accept();
                    java.net.Socket out = new java.net.Socket("127.0.0.1", targetPort);
                    open.add(in);
                    open.add(out);
                    pipe(in, out);
                    pipe(out, in);
                  } catch (IOException e) {
                    return;
                  }
                }
              });
    }

    int port() {
      return socket.getLocalPort();
    }

    private static void pipe(java.net.Socket from, java.net.Socket to) {
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  from.getInputStream().transferTo(to.getOutputStream());
                } catch (IOException e) {
                  // one side closed
                } finally {
                  try {
                    to.shutdownOutput();
                  } catch (IOException ignored) {
                    // already closed
                  }
                }
              });
    }

    @Override
    public void close() throws IOException {
      socket.close();
      for (var s : open) {
        s.close();
      }
    }
  }
}
