package dev.baton.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** {@link UpstreamClient} on {@link java.net.http.HttpClient} (HTTP/1.1, keep-alive pool). */
final class JdkUpstreamClient implements UpstreamClient {
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final HttpClient client =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .executor(executor)
          .build();

  @Override
  public Response send(URI uri, byte[] body, long timeoutMs, java.util.Map<String, String> headers)
      throws IOException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofMillis(timeoutMs));
    headers.forEach(b::header);
    if (body == null) {
      b.GET();
    } else {
      b.header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    }
    HttpResponse<InputStream> r;
    try {
      r = client.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
    return new Response() {
      @Override
      public int status() {
        return r.statusCode();
      }

      @Override
      public String contentType() {
        return r.headers().firstValue("content-type").orElse(null);
      }

      @Override
      public InputStream body() {
        return r.body();
      }

      @Override
      public void abort() {
        close();
      }

      @Override
      public void close() {
        try {
          r.body().close();
        } catch (IOException ignored) {
          // closing a broken stream: nothing left to release
        }
      }
    };
  }

  @Override
  public void close() {
    client.shutdownNow();
    executor.shutdownNow();
  }
}
