package dev.baton.cli;

import java.io.*;
import java.net.URI;
import java.net.http.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.*;

/**
 * Benchmark (not a test): TTFT of a 2048-token prompt on one colocated worker vs 1P1D (prefill
 * worker, then decode worker; this program plays the gateway), plus the KV transfer time read from
 * the decode worker's {@code baton_kv_load_seconds} counter. Usage: {@code PdTtftBench JAVA
 * CLASSPATH MODEL THREADS REPETITIONS}; numbers in docs/PERFORMANCE.md.
 */
public class PdTtftBench {
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static List<Process> procs = new ArrayList<>();

  static int start(String java, String cp, Path model, String log, String... extra)
      throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                java,
                "--add-modules",
                "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED",
                "-Xss4m",
                "-XX:+UseParallelGC",
                "-cp",
                cp,
                "dev.baton.cli.Main",
                "serve",
                "-m",
                model.toString(),
                "--port",
                "0",
                "--max-model-len",
                "4096",
                "--kv-cache-dtype",
                "f16",
                "--num-kv-blocks",
                "1024",
                "--served-model-name",
                "m",
                "--max-num-batched-tokens",
                "2048"));
    cmd.addAll(List.of(extra));
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(new File(log));
    pb.environment().put("BATON_KV_SECRET", "bench-secret-0123456789");
    Process p = pb.start();
    procs.add(p);
    Pattern port = Pattern.compile("on http://[^:]+:(\\d+)");
    for (int i = 0; i < 600; i++) {
      Thread.sleep(500);
      Matcher m = port.matcher(Files.readString(Path.of(log)));
      if (m.find()) return Integer.parseInt(m.group(1));
      if (!p.isAlive()) throw new IllegalStateException(Files.readString(Path.of(log)));
    }
    throw new IllegalStateException("no start: " + Files.readString(Path.of(log)));
  }

  static String body(int[] prompt, int maxTokens, String kv) {
    StringBuilder sb = new StringBuilder("{\"model\":\"m\",\"prompt\":[");
    for (int i = 0; i < prompt.length; i++) {
      if (i > 0) sb.append(',');
      sb.append(prompt[i]);
    }
    sb.append("],\"max_tokens\":")
        .append(maxTokens)
        .append(",\"temperature\":0,\"ignore_eos\":true,\"return_token_ids\":true");
    if (kv != null) sb.append(",\"kv_transfer_params\":").append(kv);
    return sb.append('}').toString();
  }

  static String post(int port, String body) throws Exception {
    HttpResponse<String> r =
        HTTP.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IllegalStateException(r.statusCode() + " " + r.body());
    return r.body();
  }

  static double metric(int port, String name) throws Exception {
    String m =
        HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher x = Pattern.compile("(?m)^" + name + "\\{[^}]*\\} ([0-9.eE+-]+)").matcher(m);
    return x.find() ? Double.parseDouble(x.group(1)) : Double.NaN;
  }

  static String tokens(String json) {
    Matcher m = Pattern.compile("\"token_ids\":\\[([^\\]]*)\\]").matcher(json);
    return m.find() ? m.group(1) : "?";
  }

  public static void main(String[] a) throws Exception {
    String java = a[0], cp = a[1];
    Path model = Path.of(a[2]);
    int threads = Integer.parseInt(a[3]);
    int reps = Integer.parseInt(a[4]);
    int len = 2048;
    String t = Integer.toString(threads);
    try {
      int c = start(java, cp, model, "/tmp/c.log", "--threads", t);
      int p =
          start(
              java,
              cp,
              model,
              "/tmp/p.log",
              "--threads",
              t,
              "--role",
              "prefill",
              "--kv-transfer-config",
              "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\"}");
      int d =
          start(
              java,
              cp,
              model,
              "/tmp/d.log",
              "--threads",
              t,
              "--role",
              "decode",
              "--kv-transfer-config",
              "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_consumer\"}");
      List<Double> colo = new ArrayList<>(),
          pd = new ArrayList<>(),
          pre = new ArrayList<>(),
          dec = new ArrayList<>(),
          xfer = new ArrayList<>();
      for (int r = -1; r < reps; r++) { // r = -1 warms up
        Random rnd = new Random(100 + r);
        int[] prompt = new int[len];
        for (int i = 0; i < len; i++) prompt[i] = 1000 + rnd.nextInt(100000);
        long t0 = System.nanoTime();
        String ref = post(c, body(prompt, 1, null));
        long t1 = System.nanoTime();
        String pr =
            post(p, body(prompt, 1, "{\"do_remote_decode\":true,\"do_remote_prefill\":false}"));
        long t2 = System.nanoTime();
        Matcher km = Pattern.compile("\"kv_transfer_params\":(\\{[^}]*\\})").matcher(pr);
        if (!km.find()) throw new IllegalStateException("no kv_transfer_params: " + pr);
        double before = metric(d, "baton_kv_load_seconds_total");
        String out = post(d, body(prompt, 1, km.group(1)));
        long t3 = System.nanoTime();
        double after = metric(d, "baton_kv_load_seconds_total");
        boolean same = tokens(ref).equals(tokens(out));
        System.out.printf(
            "rep %d: colocated %.3f s | P/D %.3f s (prefill %.3f + decode %.3f, transfer %.4f s) same first token: %s%n",
            r,
            (t1 - t0) / 1e9,
            (t3 - t1) / 1e9,
            (t2 - t1) / 1e9,
            (t3 - t2) / 1e9,
            after - before,
            same);
        if (r >= 0) {
          colo.add((t1 - t0) / 1e9);
          pd.add((t3 - t1) / 1e9);
          pre.add((t2 - t1) / 1e9);
          dec.add((t3 - t2) / 1e9);
          xfer.add(after - before);
        }
      }
      System.out.printf(
          "median: colocated %.3f s, 1P1D %.3f s (%.1f%%), prefill leg %.3f, decode leg %.3f, transfer %.4f s = %.2f%% of 1P1D TTFT; KV bytes %s%n",
          med(colo),
          med(pd),
          100 * (med(pd) / med(colo) - 1),
          med(pre),
          med(dec),
          med(xfer),
          100 * med(xfer) / med(pd),
          metric(d, "baton_kv_bytes_loaded_total"));
    } finally {
      for (Process p : procs) p.destroyForcibly();
    }
  }

  static double med(List<Double> v) {
    List<Double> s = new ArrayList<>(v);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }
}
