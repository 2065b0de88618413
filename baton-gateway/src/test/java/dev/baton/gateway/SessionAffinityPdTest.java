package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.testkit.VllmStandIn;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code session_affinity} as a modifier on P/D pair selection: with the {@code pd} policy, one
 * session's requests keep their prefill and decode worker, other sessions and session-less requests
 * are spread by the policy, and a session whose decode worker dies moves once and stays.
 */
class SessionAffinityPdTest {
  private final List<AutoCloseable> closeMe = new ArrayList<>();
  private final List<VllmStandIn> prefills = new ArrayList<>();
  private final List<VllmStandIn> decodes = new ArrayList<>();

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeMe.reversed()) {
      c.close();
    }
  }

  private Gateway gateway(boolean affinity) throws Exception {
    StringBuilder yaml =
        new StringBuilder(
            "health: {interval_ms: 60000}\nretry: {max_attempts: 3, backoff_ms: 1}\n"
                + "pools:\n  - name: pd\n    mode: nixl\n    policy: pd\n    session_affinity: "
                + affinity
                + "\n    workers:\n");
    for (int i = 0; i < 2; i++) {
      VllmStandIn p = new VllmStandIn(VllmStandIn.Kind.PREFILL, "tiny");
      VllmStandIn d = new VllmStandIn(VllmStandIn.Kind.DECODE, "tiny");
      closeMe.add(p);
      closeMe.add(d);
      prefills.add(p);
      decodes.add(d);
      yaml.append("      - {url: \"").append(p.url()).append("\", role: prefill}\n");
      yaml.append("      - {url: \"").append(d.url()).append("\", role: decode}\n");
    }
    Gateway g = new Gateway(GatewayConfig.parseYaml(yaml.toString()), null, null).start(0);
    closeMe.add(g);
    return g;
  }

  private static HttpResponse<String> turn(Gateway g, String session, int i) {
    String body =
        "{\"model\":\"tiny\",\"prompt\":\"turn "
            + i
            + " of a long conversation\",\"max_tokens\":2}";
    String url = "http://127.0.0.1:" + g.port() + "/v1/completions";
    HttpResponse<String> r =
        session == null ? Http.post(url, body) : Http.post(url, body, "x-session-id", session);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return r;
  }

  private static String pair(HttpResponse<String> r) {
    return r.headers().firstValue("x-baton-prefill").orElseThrow()
        + " -> "
        + r.headers().firstValue("x-baton-decode").orElseThrow();
  }

  @Test
  void aSessionKeepsItsPairUnderThePdPolicy() throws Exception {
    Gateway g = gateway(true);
    Set<String> s1 = new HashSet<>();
    Set<String> unpinned = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      s1.add(pair(turn(g, "s1", i)));
      unpinned.add(turn(g, null, i).headers().firstValue("x-baton-decode").orElseThrow());
    }
    assertThat(s1).hasSize(1);
    assertThat(unpinned).as("requests without a session are spread by pd").hasSize(2);
    assertThat(g.pool("pd").pinnedSessions()).isEqualTo(1);
  }

  @Test
  void withoutTheModifierPdSpreadsOneSessionsRequests() throws Exception {
    Gateway g = gateway(false);
    Set<String> decodesUsed = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      decodesUsed.add(turn(g, "s1", i).headers().firstValue("x-baton-decode").orElseThrow());
    }
    assertThat(decodesUsed).hasSize(2);
  }

  @Test
  void aSessionWhoseDecodeWorkerDiesMovesOnceAndStays() throws Exception {
    Gateway g = gateway(true);
    String first = turn(g, "s1", 0).headers().firstValue("x-baton-decode").orElseThrow();
    VllmStandIn pinned = decodes.get(0).url().equals(first) ? decodes.get(0) : decodes.get(1);
    VllmStandIn other = pinned == decodes.get(0) ? decodes.get(1) : decodes.get(0);
    pinned.kill();
    Set<String> after = new HashSet<>();
    for (int i = 1; i < 10; i++) {
      after.add(turn(g, "s1", i).headers().firstValue("x-baton-decode").orElseThrow());
    }
    assertThat(after).containsExactly(other.url());
  }
}
