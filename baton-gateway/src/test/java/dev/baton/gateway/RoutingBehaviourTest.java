package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Where whole requests go: prefix bursts, spreading, sessions, replica groups, conditional P/D. */
class RoutingBehaviourTest {
  private final List<AutoCloseable> closeMe = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeMe.reversed()) {
      c.close();
    }
  }

  private List<VllmStandIn> workers(VllmStandIn.Kind kind, int n) throws Exception {
    List<VllmStandIn> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      VllmStandIn w = new VllmStandIn(kind, "m");
      closeMe.add(w);
      out.add(w);
    }
    return out;
  }

  private Gateway gateway(String yaml) {
    Gateway g = new Gateway(GatewayConfig.parseYaml(yaml), null, null).start(0);
    closeMe.add(g);
    return g;
  }

  private static String list(List<VllmStandIn> ws, String role, String... groups) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < ws.size(); i++) {
      sb.append("      - {url: \"").append(ws.get(i).url()).append("\", role: ").append(role);
      if (groups.length > 0) {
        sb.append(", group: ").append(groups[i]);
      }
      sb.append("}\n");
    }
    return sb.toString();
  }

  private static Map<String, Integer> burst(Gateway g, int n, String prefix, String header) {
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String body =
          "{\"model\":\"m\",\"prompt\":\"" + prefix + " question " + i + "\",\"max_tokens\":2}";
      all.add(
          CompletableFuture.supplyAsync(
              () -> Http.post("http://127.0.0.1:" + g.port() + "/v1/completions", body)));
    }
    Map<String, Integer> counts = new HashMap<>();
    for (var f : all) {
      HttpResponse<String> r = f.join();
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      counts.merge(r.headers().firstValue(header).orElseThrow(), 1, Integer::sum);
    }
    return counts;
  }

  private static final String SHARED =
      "You are a helpful assistant. Answer briefly and precisely, citing sources when you can. "
          .repeat(4);

  @Test
  void prefixCacheSendsASharedPrefixBurstToOneWorkerAndLeastRequestSpreadsIt() throws Exception {
    List<VllmStandIn> ws = workers(VllmStandIn.Kind.BOTH, 3);
    for (VllmStandIn w : ws) {
      w.chunkDelayMs = 0;
    }
    String pool = "pools:\n  - name: c\n    policy: %s\n    workers:\n" + list(ws, "both");
    Gateway prefix = gateway(pool.formatted("prefix-cache"));
    Map<String, Integer> p = burst(prefix, 24, SHARED, "x-baton-decode");
    assertThat(p).hasSize(1);

    Gateway spread = gateway(pool.formatted("least-request"));
    // Keep requests in flight so the load is visible while the burst arrives.
    for (VllmStandIn w : ws) {
      w.chunkDelayMs = 30;
    }
    Map<String, Integer> s = new HashMap<>();
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String body =
          "{\"model\":\"m\",\"prompt\":\"" + SHARED + i + "\",\"max_tokens\":3,\"stream\":true}";
      all.add(
          CompletableFuture.supplyAsync(
              () -> Http.post("http://127.0.0.1:" + spread.port() + "/v1/completions", body)));
    }
    for (var f : all) {
      s.merge(f.join().headers().firstValue("x-baton-decode").orElseThrow(), 1, Integer::sum);
    }
    assertThat(s).hasSize(3);
  }

  @Test
  void sessionAffinityKeepsASessionOnItsWorkers() throws Exception {
    List<VllmStandIn> ps = workers(VllmStandIn.Kind.PREFILL, 2);
    List<VllmStandIn> ds = workers(VllmStandIn.Kind.DECODE, 2);
    Gateway g =
        gateway(
            "pools:\n  - name: pd\n    mode: nixl\n    policy: session-affinity\n    workers:\n"
                + list(ps, "prefill")
                + list(ds, "decode"));
    String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
    HttpResponse<String> first =
        Http.post(url, "{\"prompt\":\"turn 1\",\"max_tokens\":2}", "x-session-id", "abc");
    for (int i = 0; i < 6; i++) {
      HttpResponse<String> r =
          Http.post(url, "{\"prompt\":\"turn " + i + "\",\"max_tokens\":2}", "x-session-id", "abc");
      assertThat(r.headers().firstValue("x-baton-prefill"))
          .isEqualTo(first.headers().firstValue("x-baton-prefill"));
      assertThat(r.headers().firstValue("x-baton-decode"))
          .isEqualTo(first.headers().firstValue("x-baton-decode"));
    }
  }

  @Test
  void replicaModePairsWithinAGroup() throws Exception {
    List<VllmStandIn> ps = workers(VllmStandIn.Kind.PREFILL, 2);
    List<VllmStandIn> ds = workers(VllmStandIn.Kind.DECODE, 2);
    for (String policy : new String[] {"pd", "round-robin"}) {
      Gateway g =
          gateway(
              "pools:\n  - name: r\n    mode: nixl\n    policy: "
                  + policy
                  + "\n    workers:\n"
                  + list(ps, "prefill", "g0", "g1")
                  + list(ds, "decode", "g0", "g1"));
      String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
      for (int i = 0; i < 8; i++) {
        HttpResponse<String> r = Http.post(url, "{\"prompt\":\"p" + i + "\",\"max_tokens\":2}");
        assertThat(r.statusCode()).isEqualTo(200);
        int pi =
            r.headers().firstValue("x-baton-prefill").orElseThrow().equals(ps.get(0).url()) ? 0 : 1;
        assertThat(r.headers().firstValue("x-baton-decode")).contains(ds.get(pi).url());
      }
    }
  }

  @Test
  void shortUncachedPromptsSkipThePrefillLeg() throws Exception {
    List<VllmStandIn> ps = workers(VllmStandIn.Kind.PREFILL, 1);
    List<VllmStandIn> ds = workers(VllmStandIn.Kind.DECODE, 1);
    Gateway g =
        gateway(
            "pools:\n  - name: pd\n    mode: nixl\n    policy: pd\n    disaggregation_threshold: 100\n"
                + "    workers:\n"
                + list(ps, "prefill")
                + list(ds, "decode"));
    String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
    HttpResponse<String> shortOne = Http.post(url, "{\"prompt\":\"short\",\"max_tokens\":2}");
    assertThat(shortOne.headers().firstValue("x-baton-prefill")).isEmpty();
    assertThat(ds.get(0).plainRequests.get()).isEqualTo(1);
    String longPrompt = "long context ".repeat(60); // ~195 tokens by the 4-chars estimate
    HttpResponse<String> longOne =
        Http.post(url, "{\"prompt\":\"" + longPrompt + "\",\"max_tokens\":2}");
    assertThat(longOne.headers().firstValue("x-baton-prefill")).contains(ps.get(0).url());
    // The same long prompt again: now cached on the decode worker, so it stays colocated.
    HttpResponse<String> again =
        Http.post(url, "{\"prompt\":\"" + longPrompt + "\",\"max_tokens\":2}");
    assertThat(again.headers().firstValue("x-baton-prefill")).isEmpty();
    assertThat(Http.text(again.body(), false)).isEqualTo(Http.text(longOne.body(), false));
  }

  @Test
  void saturatedPrefillPoolSendsRequestsColocated() throws Exception {
    List<VllmStandIn> ps = workers(VllmStandIn.Kind.PREFILL, 1);
    List<VllmStandIn> ds = workers(VllmStandIn.Kind.DECODE, 1);
    Gateway g =
        gateway(
            "pools:\n  - name: pd\n    mode: nixl\n    prefill_saturation: 1\n    workers:\n"
                + list(ps, "prefill")
                + list(ds, "decode"));
    Worker prefill = g.pool("pd").find(ps.get(0).url());
    prefill.begin(true); // one prefill outstanding = saturated
    String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
    assertThat(
            Http.post(url, "{\"prompt\":\"x\",\"max_tokens\":2}")
                .headers()
                .firstValue("x-baton-prefill"))
        .isEmpty();
    prefill.end(true);
    assertThat(
            Http.post(url, "{\"prompt\":\"x\",\"max_tokens\":2}")
                .headers()
                .firstValue("x-baton-prefill"))
        .contains(ps.get(0).url());
  }
}
