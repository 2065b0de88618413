package dev.baton.cli;

import dev.baton.testkit.RedisServerProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Benchmark (not a test): the mission's trade-off, P2P vs shared-cache KV transfer for one prompt,
 * side by side in one run. Four {@code baton serve} workers (P2P prefill + decode; offload prefill
 * + decode on one fresh redis-server) and, per repetition, a fresh random prompt sent through both
 * pairs alternately, as the gateway would: prefill leg ({@code max_tokens=1}, {@code
 * do_remote_decode}), then decode leg ({@code max_tokens=1} with the returned params). Reports the
 * legs, the KV bytes each decode worker loaded, and the decode leg's excess over a decode leg that
 * loads nothing (the prompt's last block computed locally) as the transfer cost. Usage: {@code
 * PdCacheBench JAVA CLASSPATH MODEL THREADS REPETITIONS PROMPT_TOKENS}.
 */
public class PdCacheBench {

  public static void main(String[] a) throws Exception {
    String javaBin = a[0];
    String cp = a[1];
    Path model = Path.of(a[2]);
    String threads = a[3];
    int reps = Integer.parseInt(a[4]);
    int len = Integer.parseInt(a[5]);
    try (RedisServerProcess redis =
        RedisServerProcess.start(RedisServerProcess.findBinary().orElseThrow())) {
      String offload =
          "\"kv_connector_extra_config\":{\"l1_capacity\":\"1G\",\"l2_url\":\""
              + redis.url()
              + "\",\"l2_wait_ms\":5000}";
      int p2pPrefill =
          PdTtftBench.start(
              javaBin,
              cp,
              model,
              "/tmp/pcb-p.log",
              "--threads",
              threads,
              "--role",
              "prefill",
              "--kv-transfer-config",
              "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\"}");
      int p2pDecode =
          PdTtftBench.start(
              javaBin,
              cp,
              model,
              "/tmp/pcb-d.log",
              "--threads",
              threads,
              "--role",
              "decode",
              "--kv-transfer-config",
              "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_consumer\"}");
      int cachePrefill =
          PdTtftBench.start(
              javaBin,
              cp,
              model,
              "/tmp/pcb-cp.log",
              "--threads",
              threads,
              "--role",
              "prefill",
              "--kv-transfer-config",
              "{\"kv_connector\":\"OffloadConnector\",\"kv_role\":\"kv_producer\","
                  + offload
                  + "}");
      int cacheDecode =
          PdTtftBench.start(
              javaBin,
              cp,
              model,
              "/tmp/pcb-cd.log",
              "--threads",
              threads,
              "--role",
              "decode",
              "--kv-transfer-config",
              "{\"kv_connector\":\"OffloadConnector\",\"kv_role\":\"kv_consumer\","
                  + offload
                  + "}");
      List<Double> p2pTtft = new ArrayList<>();
      List<Double> p2pDecodeLeg = new ArrayList<>();
      List<Double> cacheTtft = new ArrayList<>();
      List<Double> cacheDecodeLeg = new ArrayList<>();
      double p2pBytes = 0;
      double cacheBytes = 0;
      for (int r = -1; r < reps; r++) { // r = -1 warms up
        Random rnd = new Random(500 + r);
        int[] prompt = new int[len];
        for (int i = 0; i < len; i++) {
          prompt[i] = 20 + rnd.nextInt(1500);
        }
        String ask = "{\"do_remote_decode\":true,\"do_remote_prefill\":false}";
        double[] p2p = pd(p2pPrefill, p2pDecode, prompt, ask);
        double bytesBefore = PdTtftBench.metric(cacheDecode, "baton_kv_cache_loaded_bytes_total");
        double[] cache = pd(cachePrefill, cacheDecode, prompt, ask);
        if (r >= 0) {
          p2pTtft.add(p2p[0] + p2p[1]);
          p2pDecodeLeg.add(p2p[1]);
          cacheTtft.add(cache[0] + cache[1]);
          cacheDecodeLeg.add(cache[1]);
        }
        System.out.printf(
            "rep %d: P2P prefill %.3f s + decode %.3f s | cache prefill %.3f s + decode %.3f s%n",
            r, p2p[0], p2p[1], cache[0], cache[1]);
      }
      p2pBytes = PdTtftBench.metric(p2pDecode, "baton_kv_bytes_loaded_total");
      cacheBytes = PdTtftBench.metric(cacheDecode, "baton_kv_bytes_loaded_total");
      System.out.printf(
          "%d-token prompt, medians of %d: P2P TTFT %.3f s (decode leg %.4f s) | shared cache TTFT"
              + " %.3f s (decode leg %.4f s) | cache/P2P TTFT %.3f, decode leg %.2fx | KV bytes"
              + " loaded by the decode workers over all reps: P2P %.0f, cache %.0f%n",
          len,
          reps,
          PdTtftBench.med(p2pTtft),
          PdTtftBench.med(p2pDecodeLeg),
          PdTtftBench.med(cacheTtft),
          PdTtftBench.med(cacheDecodeLeg),
          PdTtftBench.med(cacheTtft) / PdTtftBench.med(p2pTtft),
          PdTtftBench.med(cacheDecodeLeg) / PdTtftBench.med(p2pDecodeLeg),
          p2pBytes,
          cacheBytes);
    } finally {
      for (Process p : PdTtftBench.procs) {
        p.destroyForcibly();
      }
    }
  }

  /** Prefill leg then decode leg; seconds of each. Checks both end in the same first token. */
  static double[] pd(int prefill, int decode, int[] prompt, String ask) throws Exception {
    long t0 = System.nanoTime();
    String pr = PdTtftBench.post(prefill, PdTtftBench.body(prompt, 1, ask));
    long t1 = System.nanoTime();
    Matcher km = Pattern.compile("\"kv_transfer_params\":(\\{[^}]*\\})").matcher(pr);
    if (!km.find()) {
      throw new IllegalStateException("no kv_transfer_params: " + pr);
    }
    String out = PdTtftBench.post(decode, PdTtftBench.body(prompt, 1, km.group(1)));
    long t2 = System.nanoTime();
    if (!PdTtftBench.tokens(pr).equals(PdTtftBench.tokens(out))) {
      throw new IllegalStateException("first tokens differ: " + pr + " vs " + out);
    }
    return new double[] {(t1 - t0) / 1e9, (t2 - t1) / 1e9};
  }
}
