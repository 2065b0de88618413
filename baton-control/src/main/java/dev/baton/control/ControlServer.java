package dev.baton.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.Executors;

/**
 * The supervisor's control API on loopback, used by {@code baton status|scale|up|down}: every call
 * needs the bearer token stored owner-only in the run directory.
 *
 * <pre>
 * GET  /status                       -> StatusView JSON
 * POST /scale {"role","replicas"} | {"groups"}  -> {"message"} once the new size is reached
 * POST /apply {"spec": yaml, "model": resolved path} -> {"message"} after a one-at-a-time roll
 * POST /down                         -> 202, then the cluster stops
 * </pre>
 */
final class ControlServer {

  private static final int MAX_BODY = 1 << 20;
  private final HttpServer server;
  private final byte[] token;

  ControlServer(ClusterSupervisor supervisor, String token) throws IOException {
    this.token = token.getBytes(StandardCharsets.UTF_8);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext(
        "/status", ex -> handle(ex, "GET", body -> Json.MAPPER.valueToTree(supervisor.status())));
    server.createContext(
        "/scale",
        ex ->
            handle(
                ex,
                "POST",
                body -> {
                  String message;
                  if (body.hasNonNull("groups")) {
                    message = supervisor.scaleGroups(body.get("groups").asInt());
                  } else if (body.hasNonNull("role") && body.hasNonNull("replicas")) {
                    message =
                        supervisor.scaleRole(
                            Role.parse(body.get("role").asText()), body.get("replicas").asInt());
                  } else {
                    throw new IllegalArgumentException(
                        "scale needs --role R --replicas N (pool) or --groups N (replica)");
                  }
                  return message(message);
                }));
    server.createContext(
        "/apply",
        ex ->
            handle(
                ex,
                "POST",
                body ->
                    message(
                        supervisor.apply(
                            SpecParser.parse(body.path("spec").asText(), "(new spec)"),
                            body.path("model").asText(null)))));
    server.createContext(
        "/down",
        ex ->
            handle(
                ex,
                "POST",
                body -> {
                  supervisor.shutdownAsync();
                  return message("stopping");
                }));
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  void stop() {
    server.stop(0);
  }

  private static JsonNode message(String text) {
    ObjectNode node = Json.object();
    node.put("message", text);
    return node;
  }

  /** A call's work: from the JSON body to the JSON answer. */
  private interface Action {
    JsonNode run(JsonNode body) throws Exception;
  }

  private void handle(HttpExchange ex, String method, Action action) throws IOException {
    try (ex) {
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      byte[] given =
          auth == null || !auth.startsWith("Bearer ")
              ? new byte[0]
              : auth.substring(7).getBytes(StandardCharsets.UTF_8);
      if (!MessageDigest.isEqual(given, token)) {
        reply(ex, 401, error("missing or wrong control token"));
        return;
      }
      if (!ex.getRequestMethod().equals(method)) {
        reply(ex, 405, error("use " + method));
        return;
      }
      JsonNode body;
      try (InputStream in = ex.getRequestBody()) {
        byte[] bytes = in.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
          reply(ex, 413, error("body too large"));
          return;
        }
        body =
            bytes.length == 0
                ? Json.object()
                : Json.parse(new String(bytes, StandardCharsets.UTF_8));
      }
      try {
        reply(ex, 200, action.run(body));
      } catch (IllegalArgumentException e) {
        reply(ex, 400, error(e.getMessage()));
      } catch (Exception e) {
        reply(ex, 500, error(e.getMessage() == null ? e.toString() : e.getMessage()));
      }
    }
  }

  private static JsonNode error(String message) {
    ObjectNode node = Json.object();
    node.put("error", message);
    return node;
  }

  private static void reply(HttpExchange ex, int status, JsonNode body) throws IOException {
    byte[] bytes = Json.write(body).getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }
}
