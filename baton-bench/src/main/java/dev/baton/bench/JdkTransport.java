package dev.baton.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** The JDK HTTP client, used for {@code https://} servers (TLS, HTTP/1.1 keep-alive). */
final class JdkTransport implements HttpTransport {

  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10))
          .executor(executor)
          .build();

  @Override
  public Response post(URI uri, Map<String, String> headers, byte[] body, Duration timeout)
      throws IOException, InterruptedException {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(uri)
            .timeout(timeout)
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    headers.forEach(builder::header);
    HttpResponse<InputStream> response =
        http.send(builder.build(), HttpResponse.BodyHandlers.ofInputStream());
    return new Response() {
      @Override
      public int status() {
        return response.statusCode();
      }

      @Override
      public InputStream body() {
        return response.body();
      }

      @Override
      public void close() throws IOException {
        response.body().close();
      }
    };
  }

  @Override
  public void close() {
    http.shutdownNow();
    executor.shutdownNow();
  }
}
