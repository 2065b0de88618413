package dev.baton.cli;

import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.kv.SharedMemoryRegion;
import dev.baton.kv.p2p.BlockClient;
import dev.baton.kv.p2p.BlockServer;
import dev.baton.kv.p2p.LeaseTable;
import dev.baton.kv.p2p.TransferResult;
import dev.baton.kv.p2p.Transport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Measures the transfer channel against its baselines in one run: single-thread memcpy vs the
 * shared-memory path, and a plain socket copy between two processes vs the TCP path. The serving
 * side runs in a child JVM ({@link #main} with {@code peer ...}), so every byte crosses a process
 * boundary as it would between two workers.
 */
public final class TransferBench {

  /**
   * @param blocks blocks per pull (one message)
   * @param blockBytes bytes per block (512 KiB = 16 tokens of Llama-3.2-1B in F16)
   * @param repetitions measured repetitions per path (the median is reported)
   */
  public record Options(int blocks, long blockBytes, int repetitions) {
    public Options {
      if (blocks <= 0 || blockBytes <= 0 || repetitions <= 0) {
        throw new IllegalArgumentException("blocks, block bytes and repetitions must be positive");
      }
    }
  }

  /** Median bandwidths in GB/s (10^9 bytes per second). */
  public record Report(
      long bytesPerPull, double memcpyGbps, double shmGbps, double plainTcpGbps, double kvTcpGbps) {

    public double shmShareOfMemcpy() {
      return shmGbps / memcpyGbps;
    }

    public double tcpShareOfPlainSocket() {
      return kvTcpGbps / plainTcpGbps;
    }

    public String format() {
      return String.format(
          "bytes per pull       %,d%n"
              + "memcpy (1 thread)    %6.2f GB/s%n"
              + "kv shm pull          %6.2f GB/s  = %5.1f%% of memcpy (target >= 70%%)%n"
              + "plain socket copy    %6.2f GB/s%n"
              + "kv tcp pull          %6.2f GB/s  = %5.1f%% of plain socket (target >= 80%%)%n",
          bytesPerPull,
          memcpyGbps,
          shmGbps,
          100 * shmShareOfMemcpy(),
          plainTcpGbps,
          kvTcpGbps,
          100 * tcpShareOfPlainSocket());
    }
  }

  private static final String SECRET = "kv-bench-secret-not-for-production";
  private static final String LAYOUT = "bench";

  private TransferBench() {}

  /** Runs all four measurements, interleaved per repetition so noise hits each path alike. */
  public static Report run(Options options, PrintStream log)
      throws IOException, InterruptedException {
    long total = options.blocks() * options.blockBytes();
    int blockSize = 16;
    try (Arena arena = Arena.ofShared();
        OffHeapBlockMemory local =
            OffHeapBlockMemory.allocate(options.blocks(), blockSize, options.blockBytes(), LAYOUT);
        Peer kvPeer = Peer.start("kv", options);
        Peer plainPeer = Peer.start("plain", options)) {
      MemorySegment src = arena.allocate(total, 64);
      MemorySegment dst = arena.allocate(total, 64);
      src.fill((byte) 1);
      dst.fill((byte) 0);
      local.memory().fill((byte) 0);
      int[] ids = new int[options.blocks()];
      Arrays.setAll(ids, i -> i);
      byte[] secret = SECRET.getBytes(StandardCharsets.UTF_8);
      try (BlockClient tcp =
              new BlockClient(
                  local, secret, LAYOUT, Transport.TCP, Duration.ofSeconds(60), "test-client");
          BlockClient shm =
              new BlockClient(
                  local, secret, LAYOUT, Transport.SHM, Duration.ofSeconds(60), "test-client");
          SocketChannel plain =
              SocketChannel.open(new InetSocketAddress("127.0.0.1", plainPeer.port))) {
        ByteBuffer request = ByteBuffer.allocate(8);
        ByteBuffer target = local.memory().asByteBuffer();
        List<Double> memcpy = new ArrayList<>();
        List<Double> shmRates = new ArrayList<>();
        List<Double> plainRates = new ArrayList<>();
        List<Double> tcpRates = new ArrayList<>();
        int warmup = 2;
        for (int rep = 0; rep < warmup + options.repetitions(); rep++) {
          boolean measured = rep >= warmup;
          long t0 = System.nanoTime();
          MemorySegment.copy(src, 0, dst, 0, total);
          long t1 = System.nanoTime();
          TransferResult s =
              shm.pull("127.0.0.1", kvPeer.port, "bench", kvPeer.token, ids, ids, false);
          long t2 = System.nanoTime();
          check(s, "shm");
          request.clear().putLong(total).flip();
          plain.write(request);
          target.clear();
          while (target.hasRemaining()) {
            if (plain.read(target) < 0) {
              throw new IOException("plain peer closed");
            }
          }
          long t3 = System.nanoTime();
          TransferResult t =
              tcp.pull("127.0.0.1", kvPeer.port, "bench", kvPeer.token, ids, ids, false);
          long t4 = System.nanoTime();
          check(t, "tcp");
          if (measured) {
            memcpy.add(total / (double) (t1 - t0));
            shmRates.add(total / (double) (t2 - t1));
            plainRates.add(total / (double) (t3 - t2));
            tcpRates.add(total / (double) (t4 - t3));
          }
        }
        log.printf(
            "per-rep GB/s: memcpy %s%n  shm %s%n  plain %s%n  tcp %s%n",
            fmt(memcpy), fmt(shmRates), fmt(plainRates), fmt(tcpRates));
        return new Report(
            total, median(memcpy), median(shmRates), median(plainRates), median(tcpRates));
      }
    }
  }

  private static void check(TransferResult result, String path) throws IOException {
    if (!result.isOk() || !result.path().equals(path)) {
      throw new IOException(
          "bench pull over " + path + " failed: " + result.status() + " " + result.message());
    }
  }

  private static String fmt(List<Double> values) {
    StringBuilder out = new StringBuilder();
    for (double v : values) {
      out.append(String.format("%.2f ", v));
    }
    return out.toString().strip();
  }

  private static double median(List<Double> values) {
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /** A child JVM serving blocks (kv) or raw bytes (plain). */
  private static final class Peer implements AutoCloseable {
    final Process process;
    final int port;
    final String token;

    private Peer(Process process, int port, String token) {
      this.process = process;
      this.port = port;
      this.token = token;
    }

    static Peer start(String mode, Options options) throws IOException {
      String java = ProcessHandle.current().info().command().orElse("java");
      List<String> command = new ArrayList<>();
      command.add(java);
      command.add("--enable-native-access=ALL-UNNAMED");
      command.add("-cp");
      command.add(System.getProperty("java.class.path"));
      command.add(TransferBench.class.getName());
      command.add("peer");
      command.add(mode);
      command.add(Integer.toString(options.blocks()));
      command.add(Long.toString(options.blockBytes()));
      Process process =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      if (line == null || !line.startsWith("READY ")) {
        process.destroyForcibly();
        throw new IOException("bench peer did not start: " + line);
      }
      String[] parts = line.split(" ");
      return new Peer(process, Integer.parseInt(parts[1]), parts.length > 2 ? parts[2] : "");
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * The child side: {@code peer kv BLOCKS BLOCK_BYTES} serves a lease over all blocks from shared
   * memory; {@code peer plain BLOCKS BLOCK_BYTES} answers each 8-byte length with that many bytes.
   * Prints {@code READY port [token]} and serves until stdin closes or the parent kills it.
   */
  public static void main(String[] args) throws Exception {
    if (args.length == 3 && !args[0].equals("peer")) {
      // Without the CLI: TransferBench BLOCKS BLOCK_BYTES REPETITIONS
      Report report =
          run(
              new Options(
                  Integer.parseInt(args[0]), Long.parseLong(args[1]), Integer.parseInt(args[2])),
              System.out);
      System.out.print(report.format());
      return;
    }
    if (args.length != 4 || !args[0].equals("peer")) {
      System.err.println(
          "usage: TransferBench BLOCKS BLOCK_BYTES REPETITIONS | peer kv|plain BLOCKS BLOCK_BYTES");
      System.exit(2);
    }
    int blocks = Integer.parseInt(args[2]);
    long blockBytes = Long.parseLong(args[3]);
    if (args[1].equals("kv")) {
      try (OffHeapBlockMemory memory =
              OffHeapBlockMemory.shared(
                  SharedMemoryRegion.DEFAULT_DIR, blocks, 16, blockBytes, LAYOUT);
          LeaseTable leases = new LeaseTable(24 * 3600_000L, (id, end) -> {});
          BlockServer server =
              new BlockServer(
                  memory,
                  leases,
                  SECRET.getBytes(StandardCharsets.UTF_8),
                  LAYOUT,
                  BlockServer.Options.loopback())) {
        memory.memory().fill((byte) 7);
        int[] ids = new int[blocks];
        Arrays.setAll(ids, i -> i);
        String token = leases.grant("bench", ids);
        System.out.println("READY " + server.address().getPort() + " " + token);
        System.out.flush();
        System.in.transferTo(java.io.OutputStream.nullOutputStream());
      }
      return;
    }
    try (Arena arena = Arena.ofConfined();
        ServerSocketChannel server = ServerSocketChannel.open()) {
      MemorySegment data = arena.allocate(blocks * blockBytes, 64);
      data.fill((byte) 7);
      server.bind(new InetSocketAddress("127.0.0.1", 0));
      System.out.println("READY " + ((InetSocketAddress) server.getLocalAddress()).getPort());
      System.out.flush();
      try (SocketChannel channel = server.accept()) {
        ByteBuffer request = ByteBuffer.allocate(8);
        while (true) {
          request.clear();
          while (request.hasRemaining()) {
            if (channel.read(request) < 0) {
              return;
            }
          }
          long n = request.flip().getLong();
          ByteBuffer source = data.asSlice(0, n).asByteBuffer();
          while (source.hasRemaining()) {
            channel.write(source);
          }
        }
      }
    }
  }
}
