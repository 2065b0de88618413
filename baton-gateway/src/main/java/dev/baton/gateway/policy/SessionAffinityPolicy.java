package dev.baton.gateway.policy;

import dev.baton.gateway.Worker;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * {@code session-affinity}: requests with the same {@code x-session-id} go to the same worker while
 * it is a candidate (healthy); when it is not, the session moves to the least loaded candidate and
 * stays there. Requests without a session id go to the least loaded candidate. The session table is
 * an LRU bounded at {@code maxSessions}.
 */
final class SessionAffinityPolicy implements RoutingPolicy {
  private final RandomGenerator random;
  private final Map<String, String> sessions;

  SessionAffinityPolicy(RandomGenerator random, int maxSessions) {
    this.random = random;
    this.sessions =
        new LinkedHashMap<>(1024, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > maxSessions;
          }
        };
  }

  @Override
  public String name() {
    return "session-affinity";
  }

  @Override
  public Worker choose(List<Worker> candidates, RouteRequest request) {
    String session = request.sessionId();
    if (session == null) {
      return RoutingPolicy.leastLoaded(candidates, random);
    }
    synchronized (sessions) {
      String url = sessions.get(session);
      if (url != null) {
        for (Worker w : candidates) {
          if (w.url().equals(url)) {
            return w;
          }
        }
      }
      Worker chosen = RoutingPolicy.leastLoaded(candidates, random);
      sessions.put(session, chosen.url());
      return chosen;
    }
  }

  int sessions() {
    synchronized (sessions) {
      return sessions.size();
    }
  }
}
