package dev.baton.gateway.protocol;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a vLLM decode worker names the prefill request whose KV it pulled, when it tells the prefill
 * worker to free the blocks (the NIXL notification):
 *
 * <ul>
 *   <li>{@link #REMOTE_REQUEST_ID} (vLLM 0.12 and later, PR 29665): the prefill answer's {@code
 *       kv_transfer_params.remote_request_id} names it, and the decode worker reads that field
 *       unconditionally. Since PR 27987 each worker appends a random suffix to its internal request
 *       ids, so nothing else could pair the legs.
 *   <li>{@link #SHARED_REQUEST_ID} (before 0.12): both workers derive their internal id from the
 *       same {@code X-Request-Id} ({@code cmpl-<id>-0} for a completion, {@code chatcmpl-<id>} for
 *       a chat) and the decode worker notifies its own id; the prefill answer names none.
 *   <li>{@link #UNKNOWN}: the worker tells no vLLM version (Baton workers, which always send {@code
 *       remote_request_id}); the prefill answer decides.
 * </ul>
 *
 * The gateway learns a worker's pairing from {@code GET /version}.
 */
public enum NixlPairing {
  UNKNOWN,
  SHARED_REQUEST_ID,
  REMOTE_REQUEST_ID;

  private static final Pattern VERSION = Pattern.compile("^v?(\\d+)\\.(\\d+)");

  /** The pairing of a vLLM version string such as {@code 0.11.2} or {@code 0.13.0rc1.dev5}. */
  public static NixlPairing ofVersion(String version) {
    Matcher m = VERSION.matcher(version == null ? "" : version.trim());
    if (!m.find()) {
      return UNKNOWN;
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    return major > 0 || minor >= 12 ? REMOTE_REQUEST_ID : SHARED_REQUEST_ID;
  }

  /**
   * The internal id a vLLM before 0.12 gives a one-prompt request carrying {@code X-Request-Id:
   * requestId}: what its decode worker notifies, and so what its prefill worker waits for.
   */
  public static String sharedRequestId(String requestId, boolean chat) {
    return chat ? "chatcmpl-" + requestId : "cmpl-" + requestId + "-0";
  }

  /**
   * Whether a decode worker can free this prefill worker's blocks. A decode worker that notifies
   * its own shared id cannot answer a prefill worker that expects a suffixed id it names in {@code
   * remote_request_id}: the blocks would stay held until the prefill's abort timeout.
   */
  public static boolean pairable(NixlPairing prefill, NixlPairing decode) {
    return !(prefill == REMOTE_REQUEST_ID && decode == SHARED_REQUEST_ID);
  }
}
