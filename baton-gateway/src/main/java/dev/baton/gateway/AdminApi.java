package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.config.ConfigNode;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The admin API the control plane uses ({@code /admin/workers}, {@code /admin/reload}): list, add
 * and remove workers of a pool and reload the config file. With an admin token configured every
 * call needs it; without one, only loopback callers are served.
 */
final class AdminApi {

  private static final Logger LOG = Logger.getLogger(AdminApi.class.getName());

  private final Gateway gateway;

  AdminApi(Gateway gateway) {
    this.gateway = gateway;
  }

  /** Adds the admin routes. */
  void register(HttpRouting.Builder routing) {
    routing
        .get("/admin/workers", (req, res) -> guarded(req, res, this::listWorkers))
        .post("/admin/workers", (req, res) -> guarded(req, res, this::addWorker))
        .delete("/admin/workers", (req, res) -> guarded(req, res, this::removeWorker))
        .post("/admin/reload", (req, res) -> guarded(req, res, this::reload));
  }

  @FunctionalInterface
  private interface AdminAction {
    void handle(ServerRequest req, ServerResponse res) throws Exception;
  }

  /** Admin calls: with an admin token configured it is required; without one, loopback only. */
  private void guarded(ServerRequest req, ServerResponse res, AdminAction action) {
    String token = gateway.config().adminToken();
    if (token != null) {
      String auth = req.headers().first(HeaderNames.AUTHORIZATION).orElse(null);
      if (!Credentials.matches(auth, List.of(token))) {
        sendError(res, 401, "admin API needs the admin token", "authentication_error");
        return;
      }
    } else if (!(req.remotePeer().address() instanceof InetSocketAddress a
        && a.getAddress() != null
        && a.getAddress().isLoopbackAddress())) {
      sendError(res, 403, "admin API is loopback-only without an admin_token", "permission_error");
      return;
    }
    try {
      action.handle(req, res);
    } catch (IllegalArgumentException | IllegalStateException | IOException e) {
      sendError(res, 400, e.getMessage(), "invalid_request_error");
    } catch (Exception e) {
      LOG.log(Level.WARNING, "admin call failed", e);
      sendError(res, 500, ProxyFlow.describe(e), "internal_error");
    }
  }

  private void listWorkers(ServerRequest req, ServerResponse res) {
    ObjectNode out = Json.object();
    ObjectNode ps = out.putObject("pools");
    for (PoolRuntime p : gateway.pools()) {
      ObjectNode pn = ps.putObject(p.name());
      pn.put("mode", p.mode().name().toLowerCase(java.util.Locale.ROOT));
      pn.put("policy", p.policyLabel());
      ArrayNode ws = pn.putArray("workers");
      for (Worker w : p.workers()) {
        ObjectNode wn = ws.addObject();
        wn.put("url", w.url());
        wn.put("role", w.role().name().toLowerCase(java.util.Locale.ROOT));
        if (w.group() != null) {
          wn.put("group", w.group());
        }
        wn.put("healthy", w.healthy());
        wn.put("breaker", w.breaker().state().name().toLowerCase(java.util.Locale.ROOT));
        wn.put("available", w.available());
        wn.put("in_flight", w.inFlight());
        wn.put("kv_cache_usage", w.kvCacheUsage());
        if (w.kvEvents() != null) {
          // What the worker's KV events say it caches: blocks now, and stored/removed/skipped.
          ObjectNode ev = wn.putObject("kv_events");
          Worker.KvEventEndpoints at = w.kvEventEndpoints();
          ev.put("endpoint", at == null ? null : at.events());
          ev.put("replay_endpoint", at == null ? null : at.replay());
          ev.put("live", w.kvEvents().live());
          ev.put("blocks", w.kvEvents().size());
          long[] counts = w.kvEvents().counts();
          ev.put("stored", counts[0]).put("removed", counts[1]).put("skipped", counts[2]);
        }
      }
    }
    sendJson(res, 200, out);
  }

  private JsonNode jsonBody(ServerRequest req) {
    if (!req.content().hasEntity()) {
      return Json.object();
    }
    return Json.parse(new String(req.content().as(byte[].class), StandardCharsets.UTF_8));
  }

  private void addWorker(ServerRequest req, ServerResponse res) {
    JsonNode b = jsonBody(req);
    if (!b.isObject()) {
      throw new IllegalArgumentException("the body must be a JSON object");
    }
    ObjectNode spec = ((ObjectNode) b).deepCopy();
    String pool = spec.has("pool") ? spec.remove("pool").asText() : gateway.pools().get(0).name();
    WorkerSpec w = GatewayConfig.parseWorker(ConfigNode.strict("worker", spec));
    gateway.addWorker(pool, w);
    ObjectNode out = Json.object();
    out.put("pool", pool);
    out.put("url", w.url());
    out.put("added", true);
    sendJson(res, 200, out);
  }

  private void removeWorker(ServerRequest req, ServerResponse res) {
    String url = req.query().contains("url") ? req.query().get("url") : null;
    String pool = req.query().contains("pool") ? req.query().get("pool") : null;
    if (url == null) {
      JsonNode b = jsonBody(req);
      url = b.path("url").asText(null);
      pool = b.path("pool").asText(pool);
    }
    if (url == null) {
      throw new IllegalArgumentException("name the worker: ?url=... or {\"url\": ...}");
    }
    while (url.endsWith("/")) {
      url = url.substring(0, url.length() - 1);
    }
    if (pool == null) {
      pool = gateway.pools().get(0).name();
    }
    if (!gateway.removeWorker(pool, url)) {
      sendError(res, 404, "no worker " + url + " in pool '" + pool + "'", "not_found_error");
      return;
    }
    ObjectNode out = Json.object();
    out.put("pool", pool);
    out.put("url", url);
    out.put("removed", true);
    sendJson(res, 200, out);
  }

  private void reload(ServerRequest req, ServerResponse res) throws IOException {
    gateway.reload();
    ObjectNode out = Json.object();
    out.put("reloaded", true);
    sendJson(res, 200, out);
  }

  private static void sendError(ServerResponse res, int code, String message, String type) {
    Exchange.sendError(res, code, message, type);
  }

  private static void sendJson(ServerResponse res, int code, JsonNode json) {
    Exchange.sendJson(res, code, json);
  }
}
