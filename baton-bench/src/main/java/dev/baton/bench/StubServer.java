package dev.baton.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * An OpenAI-compatible server without a model: it answers completions and chat requests with
 * scripted delays (time to first token, gap between tokens), scripted failures, and the protocol's
 * real framing (SSE chunks, a usage chunk, {@code [DONE]}). It exists to test the benchmark end to
 * end with known latencies and to measure the load generator's own ceiling ({@code baton bench
 * stub-server}). Its {@code /tokenize} counts whitespace-separated words.
 */
public final class StubServer implements AutoCloseable {

  /** How the server answers one request. */
  public enum Failure {
    NONE,
    /** answers {@code status} with a JSON error body */
    HTTP_ERROR,
    /** streams one good chunk, then a line that is not JSON */
    MALFORMED_SSE,
    /** streams one good chunk, then an {@code error} event */
    ERROR_EVENT,
    /** streams one good chunk, then closes the connection mid-stream */
    DROP_CONNECTION
  }

  /**
   * The script for one request.
   *
   * @param ttft delay before the first chunk
   * @param itl delay between later chunks
   * @param tokens chunks to send; 0 or less sends {@code max_tokens}
   * @param usage whether to end with a usage chunk
   * @param failure how to fail, if at all
   * @param status the HTTP status for {@link Failure#HTTP_ERROR}
   */
  public record Script(
      Duration ttft, Duration itl, int tokens, boolean usage, Failure failure, int status) {

    /** Immediate answers of {@code max_tokens} chunks with usage. */
    public static final Script FAST =
        new Script(Duration.ZERO, Duration.ZERO, 0, true, Failure.NONE, 200);

    public static Script delays(Duration ttft, Duration itl, int tokens) {
      return new Script(ttft, itl, tokens, true, Failure.NONE, 200);
    }

    public static Script failing(Failure failure, int status) {
      return new Script(Duration.ZERO, Duration.ZERO, 3, true, failure, status);
    }

    public Script withoutUsage() {
      return new Script(ttft, itl, tokens, false, failure, status);
    }
  }

  private final ServerSocket listener;
  private final Thread acceptor;
  private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
  private final IntFunction<Script> scripts;
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicInteger active = new AtomicInteger();
  private final AtomicInteger maxActive = new AtomicInteger();
  private volatile JsonNode lastBody;
  private volatile String lastSessionId;

  /**
   * A minimal HTTP/1.1 server (a virtual thread per connection, keep-alive, chunked SSE) rather
   * than the JDK's HttpServer, which topped out near 1,200 streamed requests/s here and so hid the
   * load generator's own ceiling.
   */
  private StubServer(int port, IntFunction<Script> scripts) throws IOException {
    this.scripts = scripts;
    this.listener = new ServerSocket();
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 4096);
    this.acceptor = Thread.ofPlatform().daemon().name("stub-server-accept").start(this::accept);
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket socket = listener.accept();
        socket.setTcpNoDelay(true);
        accepted.incrementAndGet();
        connections.add(socket);
        Thread.ofVirtual().start(() -> serve(socket));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  /** One request as the stub reads it. */
  private record Request(String method, String path, Map<String, String> headers, byte[] body) {}

  private void serve(Socket socket) {
    try (socket) {
      BufferedInputStream in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
      OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
      while (true) {
        Request request = readRequest(in);
        if (request == null) {
          return;
        }
        Exchange exchange = new Exchange(out);
        boolean keep =
            switch (request.path()) {
              case "/v1/completions" -> generate(request, exchange, false);
              case "/v1/chat/completions" -> generate(request, exchange, true);
              case "/v1/models" ->
                  exchange.json(
                      200,
                      "{\"object\":\"list\",\"data\":[{\"id\":\"stub-model\",\"object\":\"model\"}]}");
              case "/tokenize" -> exchange.json(200, tokenize(request.body()));
              case "/health" -> exchange.json(200, "{}");
              default -> exchange.json(404, "{\"error\":{\"message\":\"no such path\"}}");
            };
        if (!keep) {
          return;
        }
      }
    } catch (IOException | RuntimeException e) {
      // the client went away, or a scripted drop
    } finally {
      connections.remove(socket);
    }
  }

  private static Request readRequest(BufferedInputStream in) throws IOException {
    String requestLine = SocketTransport.readLine(in);
    if (requestLine == null || requestLine.isEmpty()) {
      return null;
    }
    String[] parts = requestLine.split(" ");
    if (parts.length < 2) {
      throw new IOException("bad request line");
    }
    Map<String, String> headers = new HashMap<>();
    String line;
    while ((line = SocketTransport.readLine(in)) != null && !line.isEmpty()) {
      int colon = line.indexOf(':');
      if (colon > 0) {
        headers.put(
            line.substring(0, colon).trim().toLowerCase(Locale.ROOT),
            line.substring(colon + 1).trim());
      }
    }
    int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
    byte[] body = in.readNBytes(length);
    if (body.length != length) {
      return null;
    }
    String path = parts[1];
    int query = path.indexOf('?');
    return new Request(parts[0], query >= 0 ? path.substring(0, query) : path, headers, body);
  }

  /** Writes one response: whole JSON, or a chunked event stream. */
  private static final class Exchange {
    private final OutputStream out;

    Exchange(OutputStream out) {
      this.out = out;
    }

    boolean json(int status, String json) throws IOException {
      byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
      String head =
          "HTTP/1.1 "
              + status
              + " "
              + (status == 200 ? "OK" : "Error")
              + "\r\n"
              + "Content-Type: application/json\r\nContent-Length: "
              + bytes.length
              + "\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.flush();
      return true;
    }

    void startStream() throws IOException {
      out.write(
          ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
    }

    void event(String text) throws IOException {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(bytes);
      out.write('\r');
      out.write('\n');
      out.flush();
    }

    void endStream() throws IOException {
      out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
    }
  }

  /** Starts a server on loopback; port 0 picks a free one. */
  public static StubServer start(int port, Script script) throws IOException {
    return new StubServer(port, i -> script);
  }

  /** Starts a server whose script depends on the request's sequence number (0, 1, ...). */
  public static StubServer start(int port, IntFunction<Script> scripts) throws IOException {
    return new StubServer(port, scripts);
  }

  public int port() {
    return listener.getLocalPort();
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + port();
  }

  /** Generation requests received so far. */
  public int requests() {
    return requests.get();
  }

  /** TCP connections accepted so far (keep-alive reuse keeps this low). */
  public int connectionsAccepted() {
    return accepted.get();
  }

  /** The most generation requests that were in progress at once. */
  public int maxConcurrent() {
    return maxActive.get();
  }

  /** The body of the latest generation request. */
  public JsonNode lastBody() {
    return lastBody;
  }

  /** The {@code x-session-id} header of the latest generation request, or null. */
  public String lastSessionId() {
    return lastSessionId;
  }

  static int countWords(String text) {
    String trimmed = text.strip();
    return trimmed.isEmpty() ? 0 : trimmed.split("\\s+").length;
  }

  /** Answers one generation request; returns whether the connection stays usable. */
  private boolean generate(Request request, Exchange exchange, boolean chat) throws IOException {
    int index = requests.getAndIncrement();
    int now = active.incrementAndGet();
    maxActive.accumulateAndGet(now, Math::max);
    try {
      JsonNode body;
      try {
        body = Json.MAPPER.readTree(request.body());
      } catch (IOException e) {
        return exchange.json(400, "{\"error\":{\"message\":\"body is not JSON\"}}");
      }
      lastBody = body;
      lastSessionId = request.headers().get("x-session-id");
      Script script = scripts.apply(index);
      if (script.failure() == Failure.HTTP_ERROR) {
        return exchange.json(
            script.status(),
            "{\"error\":{\"message\":\"scripted failure\",\"code\":" + script.status() + "}}");
      }
      int maxTokens =
          body.path(chat ? "max_completion_tokens" : "max_tokens")
              .asInt(body.path("max_tokens").asInt(16));
      int tokens = script.tokens() > 0 ? script.tokens() : Math.max(1, maxTokens);
      int promptTokens = promptTokens(body, chat);
      boolean stream = body.path("stream").asBoolean(false);
      if (!stream) {
        pause(script.ttft());
        for (int i = 1; i < tokens; i++) {
          pause(script.itl());
        }
        ObjectNode answer = Json.object();
        answer
            .put("id", "cmpl-" + index)
            .put("object", chat ? "chat.completion" : "text_completion");
        ObjectNode choice = answer.putArray("choices").addObject();
        choice.put("index", 0).put("finish_reason", "length");
        String text = " tok".repeat(tokens);
        if (chat) {
          choice.putObject("message").put("role", "assistant").put("content", text);
        } else {
          choice.put("text", text);
        }
        if (script.usage()) {
          usage(answer, promptTokens, tokens);
        }
        return exchange.json(200, Json.write(answer));
      }
      exchange.startStream();
      pause(script.ttft());
      for (int i = 0; i < tokens; i++) {
        if (i > 0) {
          pause(script.itl());
        }
        exchange.event("data: " + chunk(index, chat, " tok", i == tokens - 1) + "\n\n");
        if (i == 0 && script.failure() != Failure.NONE) {
          switch (script.failure()) {
            case MALFORMED_SSE -> exchange.event("data: {this is not json\n\n");
            case ERROR_EVENT ->
                exchange.event("data: {\"error\":{\"message\":\"scripted stream error\"}}\n\n");
            default -> {}
          }
          if (script.failure() == Failure.DROP_CONNECTION) {
            return false; // close the socket without the last chunk
          }
          exchange.endStream();
          return true;
        }
      }
      if (script.usage()) {
        ObjectNode usageChunk = Json.object();
        usageChunk.put("id", "cmpl-" + index).putArray("choices");
        usage(usageChunk, promptTokens, tokens);
        exchange.event("data: " + Json.write(usageChunk) + "\n\n");
      }
      exchange.event("data: [DONE]\n\n");
      exchange.endStream();
      return true;
    } finally {
      active.decrementAndGet();
    }
  }

  private static int promptTokens(JsonNode body, boolean chat) {
    if (chat) {
      int count = 0;
      for (JsonNode m : body.path("messages")) {
        count += countWords(m.path("content").asText(""));
      }
      return count;
    }
    JsonNode prompt = body.path("prompt");
    return prompt.isArray() ? prompt.size() : countWords(prompt.asText(""));
  }

  private static void usage(ObjectNode node, int promptTokens, int completionTokens) {
    node.putObject("usage")
        .put("prompt_tokens", promptTokens)
        .put("completion_tokens", completionTokens)
        .put("total_tokens", promptTokens + completionTokens);
  }

  private static String chunk(int index, boolean chat, String text, boolean last) {
    ObjectNode chunk = Json.object();
    chunk.put("id", "cmpl-" + index);
    ObjectNode choice = chunk.putArray("choices").addObject();
    choice.put("index", 0);
    if (chat) {
      choice.putObject("delta").put("content", text);
    } else {
      choice.put("text", text);
    }
    if (last) {
      choice.put("finish_reason", "length");
    } else {
      choice.putNull("finish_reason");
    }
    return Json.write(chunk);
  }

  private static void pause(Duration d) {
    if (d.isZero()) {
      return;
    }
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String tokenize(byte[] requestBody) throws IOException {
    JsonNode body = Json.MAPPER.readTree(requestBody);
    int count = countWords(body.path("prompt").asText(""));
    ObjectNode answer = Json.object();
    answer.put("count", count).put("max_model_len", 1 << 20);
    var tokens = answer.putArray("tokens");
    for (int i = 0; i < count; i++) {
      tokens.add(i);
    }
    return Json.write(answer);
  }

  @Override
  public void close() {
    try {
      listener.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : connections) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    try {
      acceptor.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
