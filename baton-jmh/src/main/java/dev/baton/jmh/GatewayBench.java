package dev.baton.jmh;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The gateway's proxy benchmark (run by {@code baton-gateway/bench/gateway-bench.sh}): a stub
 * upstream that answers at once, an open-loop latency run (fixed request rate, direct vs through
 * the gateway, interleaved rounds) and a closed-loop throughput run (several proxies side by side).
 * The load generator speaks HTTP/1.1 over plain keep-alive sockets so its own cost stays small.
 *
 * <pre>
 * GatewayBench stub PORT
 * GatewayBench latency DIRECT_URL RATE SECONDS ROUNDS name=URL...
 * GatewayBench throughput CONNECTIONS SECONDS ROUNDS name=URL...
 * </pre>
 */
public final class GatewayBench {

  static final byte[] STUB_BODY =
      ("{\"id\":\"cmpl-stub\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\","
              + "\"choices\":[{\"index\":0,\"text\":\" ok\",\"logprobs\":null,"
              + "\"finish_reason\":\"length\",\"stop_reason\":null}],"
              + "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}")
          .getBytes(StandardCharsets.UTF_8);
  static final String REQUEST_BODY = "{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":1}";

  private GatewayBench() {}

  public static void main(String[] args) throws Exception {
    switch (args.length == 0 ? "" : args[0]) {
      case "stub" -> stub(Integer.parseInt(args[1]));
      case "latency" ->
          latency(
              args[1],
              Integer.parseInt(args[2]),
              Integer.parseInt(args[3]),
              Integer.parseInt(args[4]),
              Arrays.copyOfRange(args, 5, args.length));
      case "throughput" ->
          throughput(
              Integer.parseInt(args[1]),
              Integer.parseInt(args[2]),
              Integer.parseInt(args[3]),
              Arrays.copyOfRange(args, 4, args.length));
      default -> {
        System.err.println(
            "usage: GatewayBench stub PORT | latency DIRECT RATE SECONDS ROUNDS name=URL..."
                + " | throughput CONNECTIONS SECONDS ROUNDS name=URL...");
        System.exit(2);
      }
    }
  }

  // ---- stub upstream --------------------------------------------------------------------------

  /**
   * Answers every request at once with a small completion (keep-alive, one virtual thread each).
   */
  static void stub(int port) throws IOException {
    byte[] head =
        ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + STUB_BODY.length
                + "\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    byte[] answer = new byte[head.length + STUB_BODY.length];
    System.arraycopy(head, 0, answer, 0, head.length);
    System.arraycopy(STUB_BODY, 0, answer, head.length, STUB_BODY.length);
    try (ServerSocket server = new ServerSocket()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1024);
      System.err.println("stub listening on " + port);
      while (true) {
        Socket s = server.accept();
        s.setTcpNoDelay(true);
        Thread.ofVirtual().start(() -> serveStub(s, answer));
      }
    }
  }

  private static void serveStub(Socket s, byte[] answer) {
    try (s) {
      InputStream in = new BufferedInputStream(s.getInputStream(), 8192);
      OutputStream out = s.getOutputStream();
      while (true) {
        int contentLength = readHead(in);
        if (contentLength < 0) {
          return;
        }
        in.skipNBytes(contentLength);
        out.write(answer);
        out.flush();
      }
    } catch (IOException e) {
      // client gone
    }
  }

  /**
   * Reads an HTTP head; returns its Content-Length (0 if none), or -1 at end of stream. Chunked
   * bodies are not used by the clients measured here.
   */
  static int readHead(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int contentLength = 0;
    boolean any = false;
    while (true) {
      int c = in.read();
      if (c < 0) {
        return -1;
      }
      any = true;
      if (c == '\n') {
        if (line.isEmpty() || (line.length() == 1 && line.charAt(0) == '\r')) {
          return contentLength;
        }
        String l = line.toString().toLowerCase(Locale.ROOT);
        if (l.startsWith("content-length:")) {
          contentLength = Integer.parseInt(l.substring(15).trim());
        }
        line.setLength(0);
      } else {
        line.append((char) c);
      }
      if (!any) {
        return -1;
      }
    }
  }

  // ---- load generator ---------------------------------------------------------------------------

  /** One keep-alive connection of the load generator. */
  static final class Conn implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] request;

    Conn(URI base) throws IOException {
      socket = new Socket(base.getHost(), base.getPort());
      socket.setTcpNoDelay(true);
      in = new BufferedInputStream(socket.getInputStream(), 8192);
      out = socket.getOutputStream();
      byte[] body = REQUEST_BODY.getBytes(StandardCharsets.UTF_8);
      request =
          ("POST /v1/completions HTTP/1.1\r\nHost: "
                  + base.getHost()
                  + "\r\nContent-Type: application/json\r\nContent-Length: "
                  + body.length
                  + "\r\n\r\n"
                  + REQUEST_BODY)
              .getBytes(StandardCharsets.UTF_8);
    }

    /** One request; returns true on a 200 answer read to its end. */
    boolean call() throws IOException {
      out.write(request);
      out.flush();
      int status = readStatus();
      int length = readHead(in);
      if (length < 0) {
        throw new IOException("connection closed");
      }
      in.skipNBytes(length);
      return status == 200;
    }

    private int readStatus() throws IOException {
      StringBuilder sb = new StringBuilder();
      int c;
      while ((c = in.read()) >= 0 && c != '\n') {
        sb.append((char) c);
      }
      if (c < 0) {
        throw new IOException("connection closed");
      }
      String[] parts = sb.toString().split(" ");
      return Integer.parseInt(parts[1]);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Latencies in microseconds of one open-loop run at {@code rate} requests/s. */
  static long[] openLoop(URI target, int rate, int seconds) throws Exception {
    int total = rate * seconds;
    long[] latencies = new long[total];
    ConcurrentLinkedQueue<Conn> idle = new ConcurrentLinkedQueue<>();
    for (int i = 0; i < 16; i++) {
      idle.add(new Conn(target));
    }
    AtomicLong errors = new AtomicLong();
    CountDownLatch done = new CountDownLatch(total);
    long period = 1_000_000_000L / rate;
    long start = System.nanoTime() + 50_000_000L;
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < total; i++) {
        long due = start + i * period;
        long wait;
        while ((wait = due - System.nanoTime()) > 0) {
          LockSupport.parkNanos(wait);
        }
        int index = i;
        pool.execute(
            () -> {
              Conn c = idle.poll();
              try {
                if (c == null) {
                  c = new Conn(target);
                }
                long t0 = System.nanoTime();
                boolean ok;
                try {
                  ok = c.call();
                } catch (IOException stale) {
                  // A keep-alive connection the server closed: one fresh try, timed from here.
                  closeQuietly(c);
                  c = new Conn(target);
                  t0 = System.nanoTime();
                  ok = c.call();
                }
                latencies[index] = (System.nanoTime() - t0) / 1000;
                if (!ok) {
                  errors.incrementAndGet();
                }
                idle.add(c);
              } catch (IOException e) {
                errors.incrementAndGet();
                latencies[index] = Long.MAX_VALUE / 2;
              } finally {
                done.countDown();
              }
            });
      }
      done.await();
    }
    for (Conn c : idle) {
      c.close();
    }
    if (errors.get() > 0) {
      System.out.println("  errors: " + errors.get());
    }
    return latencies;
  }

  static long percentile(long[] sorted, double p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  /**
   * Added latency of each proxy: per round, the direct path and then each proxy, one after the
   * other (so the machine's noise hits them alike); the direct run right before a proxy's is its
   * baseline. Prints every round, then the medians over rounds.
   */
  static void latency(String direct, int rate, int seconds, int rounds, String[] targets)
      throws Exception {
    Map<String, URI> byName = targets(targets);
    // Warm-up: JIT both paths before measuring. The proxy's p99 kept falling over the first
    // ~15 s at 1000 req/s (C2 still compiling the server and client paths), so warm it that long.
    openLoop(URI.create(direct), rate, 3);
    for (URI u : byName.values()) {
      openLoop(u, rate, 15);
    }
    Map<String, List<long[]>> added = new LinkedHashMap<>();
    System.out.printf(
        "open loop %d req/s, %d s per run, %d interleaved rounds (latency in ms)%n",
        rate, seconds, rounds);
    System.out.println(
        "round  proxy             direct p50  direct p99  proxied p50  proxied p99  added p50  added"
            + " p99");
    for (int r = 0; r < rounds; r++) {
      for (var e : byName.entrySet()) {
        long[] d = openLoop(URI.create(direct), rate, seconds);
        long[] g = openLoop(e.getValue(), rate, seconds);
        Arrays.sort(d);
        Arrays.sort(g);
        long[] row = {percentile(d, 50), percentile(d, 99), percentile(g, 50), percentile(g, 99)};
        added.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(row);
        System.out.printf(
            "%5d  %-16s  %10.3f  %10.3f  %11.3f  %11.3f  %9.3f  %9.3f%n",
            r + 1,
            e.getKey(),
            row[0] / 1000.0,
            row[1] / 1000.0,
            row[2] / 1000.0,
            row[3] / 1000.0,
            (row[2] - row[0]) / 1000.0,
            (row[3] - row[1]) / 1000.0);
      }
    }
    for (var e : added.entrySet()) {
      long[] p50 = e.getValue().stream().mapToLong(x -> x[2] - x[0]).sorted().toArray();
      long[] p99 = e.getValue().stream().mapToLong(x -> x[3] - x[1]).sorted().toArray();
      System.out.printf(
          "median over rounds: %-16s added p50 %.3f ms, added p99 %.3f ms%n",
          e.getKey(), p50[p50.length / 2] / 1000.0, p99[p99.length / 2] / 1000.0);
    }
  }

  private static Map<String, URI> targets(String[] targets) {
    Map<String, URI> byName = new LinkedHashMap<>();
    for (String t : targets) {
      int eq = t.indexOf('=');
      byName.put(t.substring(0, eq), URI.create(t.substring(eq + 1)));
    }
    return byName;
  }

  /** Requests per second of a closed loop with {@code connections} keep-alive connections. */
  static double closedLoop(URI target, int connections, int seconds) throws Exception {
    AtomicLong count = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicLong reconnects = new AtomicLong();
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < connections; i++) {
        pool.execute(
            () -> {
              Conn c = null;
              while (System.nanoTime() < end) {
                try {
                  if (c == null) {
                    c = new Conn(target);
                  }
                  if (c.call()) {
                    count.incrementAndGet();
                  } else {
                    errors.incrementAndGet();
                  }
                } catch (IOException e) {
                  // The server closed a keep-alive connection: reconnect, as HTTP clients do.
                  closeQuietly(c);
                  c = null;
                  reconnects.incrementAndGet();
                }
              }
              closeQuietly(c);
            });
      }
    }
    if (errors.get() > 0) {
      System.out.println("  errors: " + errors.get());
    }
    if (reconnects.get() > connections) {
      System.out.println("  reconnects: " + reconnects.get());
    }
    return count.get() / (double) seconds;
  }

  private static void closeQuietly(Conn c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  static void throughput(int connections, int seconds, int rounds, String[] targets)
      throws Exception {
    Map<String, URI> byName = targets(targets);
    for (URI u : byName.values()) {
      closedLoop(u, connections, 2); // warm-up
    }
    Map<String, List<Double>> results = new LinkedHashMap<>();
    System.out.printf(
        "closed loop, %d connections, %d s per run, %d interleaved rounds (req/s)%n",
        connections, seconds, rounds);
    for (int r = 0; r < rounds; r++) {
      StringBuilder line = new StringBuilder("round " + (r + 1) + ":");
      for (var e : byName.entrySet()) {
        double rps = closedLoop(e.getValue(), connections, seconds);
        results.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(rps);
        line.append(String.format("  %s %.0f", e.getKey(), rps));
      }
      System.out.println(line);
    }
    StringBuilder summary = new StringBuilder("median:");
    Map<String, Double> medians = new LinkedHashMap<>();
    for (var e : results.entrySet()) {
      double[] v = e.getValue().stream().mapToDouble(Double::doubleValue).sorted().toArray();
      medians.put(e.getKey(), v[v.length / 2]);
      summary.append(String.format("  %s %.0f", e.getKey(), v[v.length / 2]));
    }
    System.out.println(summary);
    Double base = medians.get("nginx");
    if (base != null) {
      for (var e : medians.entrySet()) {
        if (!e.getKey().equals("nginx")) {
          System.out.printf("%s / nginx = %.2f%n", e.getKey(), e.getValue() / base);
        }
      }
    }
  }
}
