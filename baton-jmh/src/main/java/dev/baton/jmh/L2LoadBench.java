package dev.baton.jmh;

import dev.baton.kv.offload.BlockCodec;
import dev.baton.kv.offload.BlockKey;
import dev.baton.kv.offload.L1Store;
import dev.baton.kv.offload.L2PrefixLoader;
import dev.baton.kv.offload.L2Store;
import dev.baton.testkit.RedisServerProcess;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The offload connector's L2 load over loopback against {@code redis-benchmark} GET at the same
 * value size, side by side round by round on one fresh redis-server (no persistence). Per round:
 *
 * <ul>
 *   <li>{@code redis-benchmark -t get -d SIZE -c 1 -P 16} (one connection, 16 pipelined: the shape
 *       of our reads) and {@code -c 8} (more connections), in MB/s of values;
 *   <li>heap: the first version's path — Lettuce's {@code ByteArrayCodec} (a fresh {@code byte[]}
 *       per value), header and CRC32C checked on the array, one copy into L1;
 *   <li>pooled: {@link L2PrefixLoader} without read-ahead — values decoded into pooled off-heap
 *       buffers, checked there, one copy into L1;
 *   <li>read-ahead: {@link L2PrefixLoader} as the connector runs it, the next MGET in flight while
 *       the current one is checked and copied;
 *   <li>the fetch alone (pooled MGETs, nothing checked or copied).
 * </ul>
 *
 * All our variants read 16 keys per MGET (as a lookup reads) over 4 x {@code blocks} blocks per
 * round. Usage: {@code L2LoadBench [valueKiB=1024] [blocks=64] [rounds=5]}. Target: ours >= 50% of
 * redis-benchmark at the same value size.
 */
public final class L2LoadBench {

  private static final int CHUNK = 16;

  private L2LoadBench() {}

  public static void main(String[] args) throws Exception {
    int valueKiB = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int blocks = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    long blockBytes = valueKiB * 1024L;
    String layout = "baton-random-1b/layers=16/kv_heads=8/head_dim=64/block=16/F32";
    BlockCodec codec = new BlockCodec(layout, blockBytes);
    if (blocks < 2 || blocks % 2 != 0) {
      throw new IllegalArgumentException("blocks must be even and at least 2");
    }
    try (RedisServerProcess redis =
            RedisServerProcess.start(
                RedisServerProcess.findBinary()
                    .orElseThrow(() -> new IllegalStateException("redis-server not installed")));
        Arena arena = Arena.ofShared();
        L2Store l2 =
            new L2Store(redis.url(), "bench:", Duration.ofSeconds(10), 0, codec.valueBytes());
        // Half the blocks, FIFO: reading all of them in order evicts each before it is read
        // again, so every variant, every pass, really copies every block into L1.
        L1Store l1 = new L1Store(blockBytes * (blocks / 2), blockBytes, "fifo");
        RedisClient heapClient = RedisClient.create(redis.url());
        StatefulRedisConnection<byte[], byte[]> heap =
            heapClient.connect(ByteArrayCodec.INSTANCE)) {
      l2.awaitFirstAttempt(Duration.ofSeconds(10));
      MemorySegment block = arena.allocate(blockBytes, 64);
      List<BlockKey> keys = new ArrayList<>();
      List<byte[]> values = new ArrayList<>();
      for (int b = 0; b < blocks; b++) {
        byte[] h = new byte[32];
        ByteBuffer.wrap(h).putInt(b);
        keys.add(new BlockKey(h));
        block.fill((byte) b);
        values.add(codec.encode(h, block));
      }
      for (int from = 0; from < blocks; from += CHUNK) {
        int to = Math.min(blocks, from + CHUNK);
        if (!l2.putAll(keys.subList(from, to), values.subList(from, to))) {
          throw new IllegalStateException("preload failed");
        }
      }
      int valueBytes = codec.valueBytes();
      String[] names = {
        "redis-benchmark c1 P16",
        "redis-benchmark c8 P16",
        "heap",
        "pooled",
        "read-ahead",
        "fetch alone"
      };
      // Throughput, and client CPU seconds per GB of values: on a shared machine the first
      // moves with the other processes' load, the second much less.
      double[][] mbps = new double[names.length][rounds];
      double[][] cpu = new double[names.length][rounds];
      long bytes = blocks * 4L * valueBytes;
      redisBenchmark(redis.port(), valueBytes, 1, 1, 1, "set"); // the key GET reads
      for (int r = -2; r < rounds; r++) { // two warm-up rounds (JIT), not counted
        int slot = Math.max(0, r);
        double[][] runs = {
          redisBenchmark(redis.port(), valueBytes, blocks * 4, 1, 16, "get"),
          redisBenchmark(redis.port(), valueBytes, blocks * 4, 8, 16, "get"),
          timed(bytes, () -> heapLoad(heap, codec, l1, keys)),
          timed(bytes, () -> pooledLoad(l2, codec, l1, keys, false)),
          timed(bytes, () -> pooledLoad(l2, codec, l1, keys, true)),
          timed(blocks * (long) valueBytes, () -> fetchAlone(l2, keys))
        };
        StringBuilder line = new StringBuilder("round " + r + ":");
        for (int v = 0; v < names.length; v++) {
          mbps[v][slot] = runs[v][0];
          cpu[v][slot] = runs[v][1];
          line.append(
              String.format(" %s %.0f MB/s %.2f cpu-s/GB;", names[v], runs[v][0], runs[v][1]));
        }
        System.out.println(line);
      }
      double c1 = median(mbps[0]);
      double c8 = median(mbps[1]);
      System.out.printf(
          "value %d bytes, %d blocks, medians of %d rounds:%n", valueBytes, blocks, rounds);
      for (int v = 0; v < names.length; v++) {
        double m = median(mbps[v]);
        System.out.printf(
            "  %-24s %6.0f MB/s = %3.0f%% of c1, %3.0f%% of c8; client CPU %.2f s/GB%n",
            names[v], m, 100 * m / c1, 100 * m / c8, median(cpu[v]));
      }
    }
  }

  /** MB/s and this process's CPU seconds per GB (all its threads: caller, event loop, GC). */
  private static double[] timed(long bytes, Runnable run) {
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpuStart = os.getProcessCpuTime();
    long start = System.nanoTime();
    run.run();
    long nanos = System.nanoTime() - start;
    double cpuSeconds = (os.getProcessCpuTime() - cpuStart) / 1e9;
    return new double[] {bytes / (nanos / 1e9) / 1e6, cpuSeconds / (bytes / 1e9)};
  }

  /** The first version's path: MGET into fresh heap arrays, check, one copy into L1. */
  private static void heapLoad(
      StatefulRedisConnection<byte[], byte[]> heap,
      BlockCodec codec,
      L1Store l1,
      List<BlockKey> keys) {
    for (int pass = 0; pass < 4; pass++) {
      for (int from = 0; from < keys.size(); from += CHUNK) {
        List<BlockKey> chunk = keys.subList(from, Math.min(keys.size(), from + CHUNK));
        byte[][] redisKeys =
            chunk.stream()
                .map(k -> ("bench:" + k).getBytes(StandardCharsets.US_ASCII))
                .toArray(byte[][]::new);
        List<KeyValue<byte[], byte[]>> got = heap.sync().mget(redisKeys);
        for (int i = 0; i < chunk.size(); i++) {
          MemorySegment value = MemorySegment.ofArray(got.get(i).getValue());
          long at = codec.payloadOffset(chunk.get(i).bytes(), value);
          if (at < 0 || !l1.put(chunk.get(i), value, at)) {
            throw new IllegalStateException("a stored block did not load");
          }
        }
      }
    }
  }

  /** The connector's path, {@link L2PrefixLoader}, with or without read-ahead. */
  private static void pooledLoad(
      L2Store l2, BlockCodec codec, L1Store l1, List<BlockKey> keys, boolean ahead) {
    for (int pass = 0; pass < 4; pass++) {
      int loaded = L2PrefixLoader.load(l2, codec, l1, keys, CHUNK, ahead);
      if (loaded != keys.size()) {
        throw new IllegalStateException("loaded " + loaded + " of " + keys.size());
      }
    }
  }

  private static void fetchAlone(L2Store l2, List<BlockKey> keys) {
    for (int from = 0; from < keys.size(); from += CHUNK) {
      try (L2Store.Fetch f = l2.fetch(keys.subList(from, Math.min(keys.size(), from + CHUNK)))) {
        f.await();
      }
    }
  }

  /**
   * MB/s of values from {@code redis-benchmark -t TEST} and its CPU seconds (user + system, from
   * the shell's {@code times}) per GB.
   */
  private static double[] redisBenchmark(
      int port, int valueBytes, int requests, int clients, int pipeline, String test)
      throws IOException, InterruptedException {
    String command =
        String.format(
            "redis-benchmark -h 127.0.0.1 -p %d -t %s -d %d -n %d -c %d -P %d --csv; times",
            port, test, valueBytes, requests, clients, pipeline);
    Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    String[] lines = out.strip().split("\n");
    double cpuSeconds = 0;
    for (String t : lines[lines.length - 1].trim().split("\\s+")) { // children: user system
      String[] ms = t.replace("s", "").split("m");
      cpuSeconds += Integer.parseInt(ms[0]) * 60 + Double.parseDouble(ms[1]);
    }
    for (String line : lines) {
      if (line.startsWith("\"" + test.toUpperCase(java.util.Locale.ROOT) + "\"")) {
        double rps = Double.parseDouble(line.split(",")[1].replace("\"", ""));
        double bytes = (double) requests * valueBytes;
        return new double[] {rps * valueBytes / 1e6, cpuSeconds / (bytes / 1e9)};
      }
    }
    throw new IllegalStateException("no " + test + " line from redis-benchmark:\n" + out);
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
