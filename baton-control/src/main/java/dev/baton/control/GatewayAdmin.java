package dev.baton.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * The gateway's admin API as the control plane uses it (docs/GATEWAY.md): {@code POST
 * /admin/workers {"pool","url","role","group"}} adds a worker to a pool, {@code DELETE
 * /admin/workers?pool=&url=} removes it so no new request is routed to it.
 */
public final class GatewayAdmin {

  private static final Duration TIMEOUT = Duration.ofSeconds(5);
  private final String baseUrl;
  private final Map<String, String> headers;

  /** {@code token} is sent as a bearer token when not {@code null}. */
  public GatewayAdmin(String baseUrl, String token) {
    this.baseUrl = baseUrl;
    this.headers = token == null ? Map.of() : Map.of("Authorization", "Bearer " + token);
  }

  /**
   * What the gateway needs to know about a worker; {@code bootstrapPort} is an SGLang prefill
   * worker's bootstrap server, 0 otherwise.
   */
  public record WorkerInfo(
      String id, String url, Role role, String group, String pool, int bootstrapPort) {}

  public void register(WorkerInfo worker) throws IOException {
    ObjectNode body = Json.object();
    body.put("pool", worker.pool());
    body.put("url", worker.url());
    body.put("role", worker.role().wireName());
    if (worker.group() != null) {
      body.put("group", worker.group());
    }
    if (worker.bootstrapPort() > 0) {
      body.put("bootstrap_port", worker.bootstrapPort());
    }
    Http.Reply reply =
        Http.send("POST", baseUrl + "/admin/workers", Json.write(body), TIMEOUT, headers);
    if (!reply.ok()) {
      throw new IOException(
          "gateway refused worker "
              + worker.id()
              + ": HTTP "
              + reply.status()
              + " "
              + reply.body());
    }
  }

  /** Removes a worker; one the gateway does not know is not an error. */
  public void deregister(WorkerInfo worker) throws IOException {
    String url =
        baseUrl
            + "/admin/workers?pool="
            + URLEncoder.encode(worker.pool(), StandardCharsets.UTF_8)
            + "&url="
            + URLEncoder.encode(worker.url(), StandardCharsets.UTF_8);
    Http.Reply reply = Http.send("DELETE", url, null, TIMEOUT, headers);
    if (!reply.ok() && reply.status() != 404) {
      throw new IOException(
          "gateway did not remove worker "
              + worker.id()
              + ": HTTP "
              + reply.status()
              + " "
              + reply.body());
    }
  }
}
