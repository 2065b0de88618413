package dev.baton.testkit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A tiny worker process for supervisor tests: it speaks the parts of the worker contract the
 * control plane uses ({@code /health}, {@code /metrics} with vLLM's metric names) and answers
 * {@code /v1/completions} after a delay, so drains and restarts can be seen with requests in
 * flight. Args: {@code --port P --role R [--delay-ms N] [--fail-start]}.
 */
public final class FakeWorker {

  private FakeWorker() {}

  public static void main(String[] args) throws IOException {
    int port = 0;
    String role = "both";
    long delayMs = 150;
    String tag = "";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[++i]);
        case "--role" -> role = args[++i];
        case "--delay-ms" -> delayMs = Long.parseLong(args[++i]);
        case "--tag" -> tag = args[++i];
        case "--fail-start" -> {
          System.out.println("fake worker: refusing to start (--fail-start)");
          System.exit(3);
        }
        default -> {
          // unknown flags are accepted, as a real engine's extra args would be
        }
      }
    }
    AtomicInteger running = new AtomicInteger();
    AtomicLong served = new AtomicLong();
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    String finalRole = role;
    long delay = delayMs;
    String finalTag = tag;
    server.createContext("/health", ex -> reply(ex, 200, "{}"));
    server.createContext(
        "/metrics",
        ex ->
            reply(
                ex,
                200,
                "# TYPE vllm:num_requests_running gauge\n"
                    + "vllm:num_requests_running{model_name=\"m\"} "
                    + running.get()
                    + "\nvllm:num_requests_waiting{model_name=\"m\"} 0\n"
                    + "vllm:kv_cache_usage_perc{model_name=\"m\"} "
                    + Math.min(1.0, running.get() * 0.1)
                    + "\nbaton_fake_served_total "
                    + served.get()
                    + "\n"));
    server.createContext(
        "/v1/completions",
        ex -> {
          running.incrementAndGet();
          try {
            ex.getRequestBody().readAllBytes();
            Thread.sleep(delay);
            served.incrementAndGet();
            reply(
                ex,
                200,
                "{\"object\":\"text_completion\",\"worker_role\":\""
                    + finalRole
                    + "\",\"tag\":\""
                    + finalTag
                    + "\",\"pid\":"
                    + ProcessHandle.current().pid()
                    + ",\"choices\":[{\"index\":0,\"text\":\"ok\"}]}");
          } catch (InterruptedException e) {
            reply(ex, 500, "{}");
          } finally {
            running.decrementAndGet();
          }
        });
    server.start();
    System.out.println("fake worker " + role + " listening on " + server.getAddress().getPort());
  }

  public static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }
}
