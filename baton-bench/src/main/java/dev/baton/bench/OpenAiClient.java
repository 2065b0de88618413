package dev.baton.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.ToIntFunction;

/**
 * Sends benchmark requests to an OpenAI-compatible server and times their streamed chunks. Each
 * call blocks its (virtual) thread; the JDK HTTP client keeps HTTP/1.1 connections alive between
 * requests. Every failure (connect, HTTP status, timeout, broken or malformed stream) comes back as
 * a failed {@link RequestResult} with its reason, never as an exception.
 */
public final class OpenAiClient implements AutoCloseable {

  private final EndpointConfig config;
  private final URI uri;
  private final HttpTransport transport;
  private HttpClient controlClient;
  private final ScheduledExecutorService watchdog;
  private final ObjectNode extraBody;
  private final ToIntFunction<String> fallbackTokenCounter;

  /**
   * @param fallbackTokenCounter counts output tokens of a non-streamed response whose server sent
   *     no usage block
   */
  public OpenAiClient(EndpointConfig config, ToIntFunction<String> fallbackTokenCounter) {
    this.config = config;
    this.uri = config.resolve(config.endpoint());
    this.fallbackTokenCounter = fallbackTokenCounter;
    if (config.extraBody() != null && !config.extraBody().isBlank()) {
      JsonNode extra = Json.parse(config.extraBody());
      if (!extra.isObject()) {
        throw new IllegalArgumentException("--extra-body must be a JSON object");
      }
      this.extraBody = (ObjectNode) extra;
    } else {
      this.extraBody = null;
    }
    this.transport =
        config.baseUrl().getScheme().equalsIgnoreCase("https")
            ? new JdkTransport()
            : new SocketTransport();
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "bench-request-watchdog");
              t.setDaemon(true);
              return t;
            });
  }

  public EndpointConfig config() {
    return config;
  }

  /** The JSON body for {@code request}, as vLLM's benchmark client builds it. */
  public ObjectNode body(PreparedRequest request) {
    ObjectNode body = Json.object();
    if (config.model() != null) {
      body.put("model", config.model());
    }
    if (config.chat()) {
      ArrayNode messages = body.putArray("messages");
      for (ChatMessage m : request.history()) {
        messages.addObject().put("role", m.role()).put("content", m.content());
      }
      if (request.prompt() == null) {
        throw new IllegalArgumentException("the chat endpoint needs text prompts, not token ids");
      }
      messages.addObject().put("role", "user").put("content", request.prompt());
      body.put("max_completion_tokens", request.outputLen());
    } else {
      if (request.promptTokenIds() != null) {
        ArrayNode ids = body.putArray("prompt");
        for (int id : request.promptTokenIds()) {
          ids.add(id);
        }
      } else {
        body.put("prompt", request.flattenedPrompt());
      }
      body.put("max_tokens", request.outputLen());
    }
    body.put("temperature", 0.0);
    body.put("stream", config.stream());
    if (config.stream()) {
      body.putObject("stream_options").put("include_usage", true);
    }
    if (config.ignoreEos()) {
      body.put("ignore_eos", true);
    }
    if (extraBody != null) {
      body.setAll(extraBody.deepCopy());
    }
    return body;
  }

  /**
   * Sends one request and waits for its whole response.
   *
   * @param onChunk called with 1 for every streamed chunk (live tokens/s); may be null
   */
  public RequestResult send(PreparedRequest request, IntConsumer onChunk) {
    byte[] payload;
    try {
      payload = Json.MAPPER.writeValueAsBytes(body(request));
    } catch (IOException | IllegalArgumentException e) {
      long now = System.nanoTime();
      return RequestResult.failure(
          now, 0, "bad request", "cannot build request: " + e.getMessage());
    }
    Map<String, String> headers = headers();
    if (request.sessionId() != null) {
      headers.put("x-session-id", request.sessionId());
    }
    Thread caller = Thread.currentThread();
    long sendNanos = System.nanoTime();
    // The HTTP client's timeout covers only the wait for headers; the watchdog interrupts a
    // stream that runs past the request timeout.
    ScheduledFuture<?> deadline =
        watchdog.schedule(
            caller::interrupt, config.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
    try {
      return exchange(payload, headers, sendNanos, onChunk);
    } catch (RuntimeException e) {
      // A bug or an odd answer must cost one request, never the run.
      return failed(sendNanos, "client error", "client error: " + e);
    } finally {
      deadline.cancel(false);
      Thread.interrupted(); // a late watchdog interrupt must not leak into the next request
    }
  }

  private Map<String, String> headers() {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", "application/json");
    if (config.apiKey() != null && !config.apiKey().isEmpty()) {
      headers.put("Authorization", "Bearer " + config.apiKey());
    }
    return headers;
  }

  private RequestResult exchange(
      byte[] payload, Map<String, String> headers, long sendNanos, IntConsumer onChunk) {
    StreamAccumulator stream = new StreamAccumulator(config.chat(), sendNanos);
    HttpTransport.Response response;
    try {
      response = transport.post(uri, headers, payload, config.requestTimeout());
    } catch (HttpConnectTimeoutException e) {
      return failed(sendNanos, "connect timeout", "connect timeout: " + uri);
    } catch (HttpTimeoutException | SocketTimeoutException e) {
      return failed(sendNanos, "timeout", "no response within " + config.requestTimeout());
    } catch (ConnectException e) {
      return failed(sendNanos, "connect failed", "cannot connect to " + uri + ": " + reason(e));
    } catch (IOException e) {
      if (Thread.currentThread().isInterrupted()) {
        return failed(sendNanos, "timeout", "no response within " + config.requestTimeout());
      }
      return failed(sendNanos, "connection error", "request to " + uri + " failed: " + reason(e));
    } catch (InterruptedException e) {
      return failed(sendNanos, "timeout", "no response within " + config.requestTimeout());
    }
    try (response) {
      InputStream body = response.body();
      int status = response.status();
      if (status != 200) {
        String text = new String(body.readNBytes(2048), StandardCharsets.UTF_8);
        return failed(
            sendNanos,
            "HTTP " + status,
            "HTTP " + status + ": " + StreamAccumulator.abbreviate(text.strip()));
      }
      if (!config.stream()) {
        byte[] all = body.readAllBytes();
        long now = System.nanoTime();
        JsonNode json;
        try {
          json = Json.MAPPER.readTree(all);
        } catch (IOException e) {
          return failed(
              sendNanos,
              "malformed response",
              "response is not JSON: "
                  + StreamAccumulator.abbreviate(new String(all, StandardCharsets.UTF_8)));
        }
        stream.onEvent(json, now);
        if (onChunk != null) {
          onChunk.accept(1);
        }
        RequestResult r = stream.finish(now);
        if (r.success() && !r.usageReported()) {
          r = withOutputTokens(r, fallbackTokenCounter.applyAsInt(r.generatedText()));
        }
        return r;
      }
      LineReader lines = new LineReader(body);
      String line;
      while (!stream.finished() && (line = lines.next()) != null) {
        long now = System.nanoTime();
        stream.onLine(line, now);
        if (onChunk != null && line.startsWith("data:")) {
          onChunk.accept(1);
        }
      }
      RequestResult result = stream.finish(System.nanoTime());
      if (result.success()) {
        // Read to the body's end (after [DONE] only the last chunk marker is left) so the
        // connection can serve the next request.
        while (lines.next() != null) {
          // nothing is expected after [DONE]
        }
      }
      return result;
    } catch (IOException e) {
      if (Thread.currentThread().isInterrupted() || e instanceof java.io.InterruptedIOException) {
        return failed(sendNanos, "timeout", "stream ran past " + config.requestTimeout());
      }
      return failed(sendNanos, "stream broken", "stream broke: " + reason(e));
    }
  }

  private static RequestResult withOutputTokens(RequestResult r, int tokens) {
    return new RequestResult(
        r.success(),
        r.sendNanos(),
        r.ttftNanos(),
        r.e2elNanos(),
        r.itlNanos(),
        tokens,
        false,
        r.promptTokens(),
        r.generatedText(),
        r.error(),
        r.errorKind());
  }

  private static RequestResult failed(long sendNanos, String kind, String message) {
    return RequestResult.failure(sendNanos, System.nanoTime() - sendNanos, kind, message);
  }

  static String reason(Throwable e) {
    Throwable cause = e;
    while (cause.getMessage() == null && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
  }

  /** GETs {@code path} and parses the JSON answer (for /v1/models); throws on failure. */
  public JsonNode getJson(String path) throws IOException, InterruptedException {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(config.resolve(path)).timeout(Duration.ofSeconds(30)).GET();
    if (config.apiKey() != null && !config.apiKey().isEmpty()) {
      builder.header("Authorization", "Bearer " + config.apiKey());
    }
    HttpResponse<String> response =
        controlClient().send(builder.build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IOException("GET " + path + " answered HTTP " + response.statusCode());
    }
    return Json.parse(response.body());
  }

  /** POSTs a JSON body to {@code path} and parses the answer; throws on failure. */
  public JsonNode postJson(String path, JsonNode requestBody)
      throws IOException, InterruptedException {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(config.resolve(path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(requestBody)));
    if (config.apiKey() != null && !config.apiKey().isEmpty()) {
      builder.header("Authorization", "Bearer " + config.apiKey());
    }
    HttpResponse<String> response =
        controlClient().send(builder.build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IOException(
          "POST "
              + path
              + " answered HTTP "
              + response.statusCode()
              + ": "
              + StreamAccumulator.abbreviate(response.body()));
    }
    return Json.parse(response.body());
  }

  /** The JDK client for the few setup calls (/v1/models, /tokenize); made on first use. */
  private synchronized HttpClient controlClient() {
    if (controlClient == null) {
      controlClient =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .connectTimeout(Duration.ofSeconds(10))
              .build();
    }
    return controlClient;
  }

  @Override
  public void close() {
    watchdog.shutdownNow();
    transport.close();
    synchronized (this) {
      if (controlClient != null) {
        controlClient.shutdownNow();
      }
    }
  }

  /** Splits a byte stream into UTF-8 lines as soon as each line is complete. */
  static final class LineReader {
    private final InputStream in;
    private final byte[] buffer = new byte[8192];
    private int start;
    private int end;
    private byte[] partial = new byte[256];
    private int partialLength;

    LineReader(InputStream in) {
      this.in = in;
    }

    /** The next line without its terminator ("\n" or "\r\n"), or null at end of stream. */
    String next() throws IOException {
      while (true) {
        for (int i = start; i < end; i++) {
          if (buffer[i] == '\n') {
            int lineEnd = i;
            String line = take(lineEnd);
            start = i + 1;
            return line;
          }
        }
        keep(start, end);
        start = 0;
        end = in.read(buffer, 0, buffer.length);
        if (end < 0) {
          end = 0;
          if (partialLength == 0) {
            return null;
          }
          String last = decode(partial, partialLength);
          partialLength = 0;
          return last;
        }
      }
    }

    private String take(int lineEnd) {
      String line;
      if (partialLength == 0) {
        int length = lineEnd - start;
        if (length > 0 && buffer[lineEnd - 1] == '\r') {
          length--;
        }
        line = new String(buffer, start, length, StandardCharsets.UTF_8);
      } else {
        keep(start, lineEnd);
        line = decode(partial, partialLength);
        partialLength = 0;
      }
      return line;
    }

    private void keep(int from, int to) {
      int length = to - from;
      if (length <= 0) {
        return;
      }
      if (partialLength + length > partial.length) {
        partial =
            java.util.Arrays.copyOf(partial, Math.max(partial.length * 2, partialLength + length));
      }
      System.arraycopy(buffer, from, partial, partialLength, length);
      partialLength += length;
    }

    private static String decode(byte[] bytes, int length) {
      if (length > 0 && bytes[length - 1] == '\r') {
        length--;
      }
      return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }
  }
}
