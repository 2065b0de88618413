package dev.baton.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.baton.core.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stand-in gateway process for supervisor tests, following the admin API contract of
 * docs/GATEWAY.md: workers are added with {@code POST /admin/workers} and removed with {@code
 * DELETE /admin/workers?pool=...&url=...}; completions go round-robin to registered decode-capable
 * workers. Args: {@code --port P}.
 */
public final class FakeGateway {

  private FakeGateway() {}

  public static void main(String[] args) throws IOException {
    int port = 0;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--port")) {
        port = Integer.parseInt(args[++i]);
      }
    }
    Map<String, JsonNode> workers = new ConcurrentHashMap<>();
    AtomicLong next = new AtomicLong();
    HttpClient client = HttpClient.newHttpClient();
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/health", ex -> FakeWorker.reply(ex, 200, "{}"));
    server.createContext(
        "/admin/workers",
        ex -> {
          switch (ex.getRequestMethod()) {
            case "POST" -> {
              JsonNode body =
                  Json.parse(
                      new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
              java.util.Set<String> allowed =
                  java.util.Set.of("url", "role", "group", "bootstrap_port", "pool");
              java.util.List<String> names = new java.util.ArrayList<>();
              body.fieldNames().forEachRemaining(names::add);
              if (!body.hasNonNull("url") || !allowed.containsAll(names)) {
                FakeWorker.reply(ex, 400, "{\"error\":\"bad worker: " + names + "\"}");
                return;
              }
              workers.put(body.get("url").asText(), body);
              FakeWorker.reply(ex, 200, "{}");
            }
            case "DELETE" -> {
              String url = null;
              for (String param : ex.getRequestURI().getRawQuery().split("&")) {
                if (param.startsWith("url=")) {
                  url = URLDecoder.decode(param.substring(4), StandardCharsets.UTF_8);
                }
              }
              FakeWorker.reply(ex, workers.remove(url) == null ? 404 : 200, "{}");
            }
            case "GET" -> FakeWorker.reply(ex, 200, Json.write(workers.values()));
            default -> FakeWorker.reply(ex, 405, "{}");
          }
        });
    server.createContext(
        "/v1/completions",
        ex -> {
          byte[] body = ex.getRequestBody().readAllBytes();
          List<JsonNode> decoders =
              workers.values().stream()
                  .filter(w -> !w.get("role").asText().equals("prefill"))
                  .toList();
          if (decoders.isEmpty()) {
            FakeWorker.reply(ex, 503, "{\"error\":\"no workers\"}");
            return;
          }
          JsonNode target = decoders.get((int) (next.getAndIncrement() % decoders.size()));
          try {
            HttpResponse<String> response =
                client.send(
                    HttpRequest.newBuilder(
                            URI.create(target.get("url").asText() + "/v1/completions"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
            FakeWorker.reply(ex, response.statusCode(), response.body());
          } catch (IOException | InterruptedException e) {
            FakeWorker.reply(
                ex, 502, "{\"error\":\"upstream " + target.get("url").asText() + ": " + e + "\"}");
          }
        });
    server.start();
    System.out.println("fake gateway listening on " + server.getAddress().getPort());
  }
}
