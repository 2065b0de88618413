package dev.baton.jmh;

import dev.baton.engine.sched.EngineEvent;
import dev.baton.engine.sched.EngineRequest;
import dev.baton.engine.sched.RequestOptions;
import dev.baton.engine.server.SamplerFactory;
import dev.baton.engine.server.SamplingSettings;
import dev.baton.engine.server.Worker;
import dev.baton.engine.server.WorkerOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Serving-engine latency benchmarks for docs/PERFORMANCE.md, run against an in-process {@link
 * Worker} so both sides of each comparison share one JVM and one moment:
 *
 * <ul>
 *   <li>{@code ttft}: time to first token of a short prompt submitted to the engine directly vs.
 *       streamed through the HTTP server (the server's overhead);
 *   <li>{@code prefix}: streamed TTFT of a prompt with a never-seen prefix vs. the same prefix
 *       again with a new suffix (the prefix cache's effect).
 * </ul>
 *
 * <p>Trials alternate the two sides so machine noise hits both alike; prompts are random token ids
 * (seeded), fresh per trial, so nothing hits the cache unless meant to.
 *
 * <p>Usage: {@code ServeBench ttft|prefix MODEL.gguf [trials] [threads]}
 */
public final class ServeBench {

  private ServeBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: ServeBench ttft|prefix MODEL.gguf [trials] [threads]");
      System.exit(2);
    }
    String mode = args[0];
    int trials = args.length > 2 ? Integer.parseInt(args[2]) : 15;
    int threads = args.length > 3 ? Integer.parseInt(args[3]) : 0;
    WorkerOptions d = WorkerOptions.defaults(Path.of(args[1]));
    WorkerOptions o =
        d.with(new WorkerOptions.Listener("127.0.0.1", 0, "both", null, null, 8L << 20))
            .with(new WorkerOptions.Compute(d.compute().backend(), threads, 0));
    try (Worker w = Worker.start(o)) {
      Bench b = new Bench(w);
      switch (mode) {
        case "ttft" -> b.ttft(trials);
        case "prefix" -> b.prefix(trials);
        default -> throw new IllegalArgumentException("unknown mode " + mode);
      }
    }
    System.exit(0);
  }

  private static final class Bench {
    final Worker w;
    final Random rnd = new Random(2024);

    Bench(Worker w) {
      this.w = w;
    }

    int[] randomTokens(int n) {
      int[] t = new int[n];
      int ordinary = w.text().vocabSize() - 300; // Baton's random models put specials last
      for (int i = 0; i < n; i++) {
        t[i] = rnd.nextInt(ordinary);
      }
      return t;
    }

    double inProcessTtft(int[] prompt) throws InterruptedException {
      long t0 = System.nanoTime();
      EngineRequest r =
          new EngineRequest(
              "bench-" + System.nanoTime(),
              prompt,
              RequestOptions.of(1, Set.of()),
              SamplerFactory.standard()
                  .create(new SamplingSettings(0, 1, -1, 0, null, 0, 0, 1, null)),
              w.text().detokenizer());
      w.engine().submit(r);
      EngineEvent e = r.events().poll(10, TimeUnit.MINUTES);
      if (!(e instanceof EngineEvent.Token)) {
        throw new IllegalStateException("no token: " + e);
      }
      return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * Streamed TTFT over a plain HTTP/1.1 socket: from writing the request to reading the first
     * {@code data:} event (the whole stream is then read to its end).
     */
    double httpTtft(int[] prompt) throws IOException {
      byte[] body =
          ("{\"prompt\":"
                  + Arrays.toString(prompt).replace(" ", "")
                  + ",\"max_tokens\":1,\"temperature\":0,\"stream\":true}")
              .getBytes(StandardCharsets.UTF_8);
      byte[] head =
          ("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                  + "\r\nContent-Length: "
                  + body.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII);
      byte[] request = Arrays.copyOf(head, head.length + body.length);
      System.arraycopy(body, 0, request, head.length, body.length);
      try (Socket s = new Socket("127.0.0.1", w.port())) {
        s.setTcpNoDelay(true);
        long t0 = System.nanoTime();
        s.getOutputStream().write(request);
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        StringBuilder seen = new StringBuilder();
        byte[] buf = new byte[8192];
        double ttft = -1;
        int n;
        while ((n = in.read(buf)) > 0) {
          seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
          if (ttft < 0 && seen.indexOf("data: {") >= 0) {
            ttft = (System.nanoTime() - t0) / 1e6;
          }
          if (seen.indexOf("data: [DONE]") >= 0 && seen.toString().endsWith("0\r\n\r\n")) {
            break; // last chunk of the chunked body
          }
        }
        if (ttft < 0 || !seen.toString().startsWith("HTTP/1.1 200")) {
          throw new IllegalStateException("bad response: " + seen);
        }
        return ttft;
      }
    }

    void ttft(int trials) throws Exception {
      for (int i = 0; i < 3; i++) { // warm up JIT and the HTTP client
        inProcessTtft(randomTokens(16));
        httpTtft(randomTokens(16));
      }
      List<Double> direct = new ArrayList<>();
      List<Double> viaHttp = new ArrayList<>();
      List<Double> diff = new ArrayList<>();
      for (int i = 0; i < trials; i++) {
        double a;
        double b;
        if (i % 2 == 0) {
          a = inProcessTtft(randomTokens(16));
          b = httpTtft(randomTokens(16));
        } else {
          b = httpTtft(randomTokens(16));
          a = inProcessTtft(randomTokens(16));
        }
        direct.add(a);
        viaHttp.add(b);
        diff.add(b - a);
        System.out.printf(Locale.ROOT, "trial %d: in-process %.2f ms, HTTP %.2f ms%n", i, a, b);
      }
      System.out.printf(
          Locale.ROOT,
          "TTFT 16-token prompt, %d trials: in-process median %.2f ms, HTTP median %.2f ms,"
              + " median paired difference %.2f ms%n",
          trials,
          median(direct),
          median(viaHttp),
          median(diff));
    }

    void prefix(int trials) throws Exception {
      httpTtft(randomTokens(16));
      List<Double> miss = new ArrayList<>();
      List<Double> hit = new ArrayList<>();
      for (int i = 0; i < trials; i++) {
        int[] prefix = randomTokens(1024);
        int[] a = concat(prefix, randomTokens(16));
        int[] b = concat(prefix, randomTokens(16));
        double m = httpTtft(a);
        double h = httpTtft(b);
        miss.add(m);
        hit.add(h);
        System.out.printf(Locale.ROOT, "trial %d: miss %.1f ms, hit %.1f ms%n", i, m, h);
      }
      System.out.printf(
          Locale.ROOT,
          "TTFT 1024-token shared prefix + 16, %d trials: miss median %.1f ms, hit median %.1f ms,"
              + " ratio %.1fx%n",
          trials,
          median(miss),
          median(hit),
          median(miss) / median(hit));
    }

    static int[] concat(int[] a, int[] b) {
      int[] out = Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, out, a.length, b.length);
      return out;
    }

    static double median(List<Double> xs) {
      List<Double> s = new ArrayList<>(xs);
      s.sort(null);
      int n = s.size();
      return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
  }
}
