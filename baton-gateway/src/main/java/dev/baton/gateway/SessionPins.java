package dev.baton.gateway;

import dev.baton.gateway.PoolRuntime.Selection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Session affinity as a modifier on any pool's pair selection ({@code session_affinity: true}):
 * requests with the same {@code x-session-id} go back to the workers the session used last, the
 * decode worker first (it holds the conversation's prefix in its cache, and with conditional
 * disaggregation a short new turn runs there alone), the prefill worker too while it is available.
 * A pinned worker that is unavailable or excluded (it failed this request) is replaced by the
 * pool's policy, and the session moves with it. The table is an LRU of at most {@code maxSessions}.
 */
final class SessionPins {

  /** The urls a session used last; {@code prefill} null for a colocated run. */
  record Pin(String prefill, String decode) {}

  private final Map<String, Pin> pins;

  SessionPins(int maxSessions) {
    this.pins =
        new LinkedHashMap<>(1024, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Pin> eldest) {
            return size() > maxSessions;
          }
        };
  }

  /** The session's last workers, or null. */
  synchronized Pin get(String session) {
    return pins.get(session);
  }

  /** Records the workers the session's request was sent to. */
  synchronized void put(String session, Selection s) {
    pins.put(session, new Pin(s.prefill() == null ? null : s.prefill().url(), s.decode().url()));
  }

  synchronized int size() {
    return pins.size();
  }
}
