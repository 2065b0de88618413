package dev.baton.jmh;

import dev.baton.kv.offload.BlockCodec;
import dev.baton.kv.offload.BlockKey;
import dev.baton.kv.offload.L1Store;
import dev.baton.kv.offload.L2Store;
import dev.baton.testkit.RedisServerProcess;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The offload connector's L2 load over loopback against {@code redis-benchmark} GET at the same
 * value size, alternating round by round on one fresh redis-server (no persistence):
 *
 * <ul>
 *   <li>{@code redis-benchmark -t get -d SIZE -c 1 -P 16} (one connection, 16 pipelined: the shape
 *       of our reads) and {@code -c 8} (more connections), in MB/s of values;
 *   <li>ours: {@code L2Store.getAll} of 16 keys per MGET (as a lookup reads), then the header and
 *       CRC32C check into a scratch block and the copy into L1 — the whole L2-to-L1 path.
 * </ul>
 *
 * Usage: {@code L2LoadBench [valueKiB=1024] [blocks=64] [rounds=5] [direct|scratch]}. Target: ours
 * >= 50% of redis-benchmark at the same value size.
 */
public final class L2LoadBench {

  private L2LoadBench() {}

  public static void main(String[] args) throws Exception {
    int valueKiB = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int blocks = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    // direct (the connector's path): check in place, one copy into L1; scratch: decode into a
    // scratch block, then copy that into L1 (the first version, kept to measure the difference).
    boolean direct = args.length <= 3 || !args[3].equals("scratch");
    long blockBytes = valueKiB * 1024L;
    String layout = "baton-random-1b/layers=16/kv_heads=8/head_dim=64/block=16/F32";
    BlockCodec codec = new BlockCodec(layout, blockBytes);
    try (RedisServerProcess redis =
            RedisServerProcess.start(
                RedisServerProcess.findBinary()
                    .orElseThrow(() -> new IllegalStateException("redis-server not installed")));
        Arena arena = Arena.ofShared();
        L2Store l2 = new L2Store(redis.url(), "bench:", Duration.ofSeconds(10), 0);
        L1Store l1 = new L1Store(blockBytes * (blocks + 1), blockBytes, "s3fifo")) {
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
      for (int from = 0; from < blocks; from += 16) {
        int to = Math.min(blocks, from + 16);
        if (!l2.putAll(keys.subList(from, to), values.subList(from, to))) {
          throw new IllegalStateException("preload failed");
        }
      }
      int valueBytes = values.getFirst().length;
      double[] ours = new double[rounds];
      double[] benchP16 = new double[rounds];
      double[] benchC8 = new double[rounds];
      double[] raw = new double[rounds];
      MemorySegment scratch = arena.allocate(blockBytes, 64);
      for (int r = -2; r < rounds; r++) { // two warm-up rounds (JIT), not counted
        int slot = Math.max(0, r);
        benchP16[slot] = redisBenchmark(redis.port(), valueBytes, blocks * 4, 1, 16);
        benchC8[slot] = redisBenchmark(redis.port(), valueBytes, blocks * 4, 8, 16);
        long bytes = 0;
        long start = System.nanoTime();
        for (int pass = 0; pass < 4; pass++) {
          for (int from = 0; from < blocks; from += 16) {
            List<BlockKey> chunk = keys.subList(from, Math.min(blocks, from + 16));
            byte[][] got = l2.getAll(chunk);
            for (int i = 0; i < chunk.size(); i++) {
              BlockKey into = new BlockKey(padKey(chunk.get(i), r * 4 + pass + 8));
              boolean loaded =
                  direct
                      ? l1.put(into, got[i], codec.payloadOffset(chunk.get(i).bytes(), got[i]))
                      : codec.decodeInto(chunk.get(i).bytes(), got[i], scratch)
                          && l1.put(into, scratch);
              if (!loaded) {
                throw new IllegalStateException("a stored block did not load");
              }
              bytes += got[i].length;
            }
          }
        }
        long fetchOnly = System.nanoTime();
        for (int from = 0; from < blocks; from += 16) {
          l2.getAll(keys.subList(from, Math.min(blocks, from + 16)));
        }
        raw[slot] = blocks * (double) valueBytes / ((System.nanoTime() - fetchOnly) / 1e9) / 1e6;
        ours[slot] = bytes / ((System.nanoTime() - start) / 1e9) / 1e6;
        System.out.printf(
            "round %d: redis-benchmark GET c1 P16 %.0f MB/s, c8 P16 %.0f MB/s; baton L2->L1 %.0f"
                + " MB/s (MGET alone %.0f MB/s)%n",
            r, benchP16[slot], benchC8[slot], ours[slot], raw[slot]);
      }
      double o = median(ours);
      double b1 = median(benchP16);
      double b8 = median(benchC8);
      System.out.printf(
          "value %d bytes, %d blocks x 4 per round, medians of %d rounds:%n"
              + "  redis-benchmark GET -c 1 -P 16: %.0f MB/s%n"
              + "  redis-benchmark GET -c 8 -P 16: %.0f MB/s%n"
              + "  baton L2 load (MGET 16 + check + L1 copy): %.0f MB/s = %.0f%% of c1, %.0f%% of c8%n"
              + "  of which L2Store.getAll alone (MGET 16 into byte[]): %.0f MB/s%n",
          valueBytes, blocks, rounds, b1, b8, o, 100 * o / b1, 100 * o / b8, median(raw));
    }
  }

  /** A distinct L1 key per pass, so every pass really copies into L1. */
  private static byte[] padKey(BlockKey key, int pass) {
    byte[] h = key.bytes();
    h[31] = (byte) pass;
    return h;
  }

  /** MB/s of GET values from redis-benchmark (requests/s x value bytes). */
  private static double redisBenchmark(
      int port, int valueBytes, int requests, int clients, int pipeline)
      throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(
                "redis-benchmark",
                "-h",
                "127.0.0.1",
                "-p",
                Integer.toString(port),
                "-t",
                "set,get",
                "-d",
                Integer.toString(valueBytes),
                "-n",
                Integer.toString(requests),
                "-c",
                Integer.toString(clients),
                "-P",
                Integer.toString(pipeline),
                "--csv")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    for (String line : out.split("\n")) {
      if (line.startsWith("\"GET\"")) {
        double rps = Double.parseDouble(line.split(",")[1].replace("\"", ""));
        return rps * valueBytes / 1e6;
      }
    }
    throw new IllegalStateException("no GET line from redis-benchmark:\n" + out);
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
