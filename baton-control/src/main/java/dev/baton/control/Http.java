package dev.baton.control;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/** Small blocking HTTP calls the control plane makes to workers, the gateway and the supervisor. */
final class Http {

  static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .connectTimeout(Duration.ofSeconds(2))
          .version(HttpClient.Version.HTTP_1_1)
          .build();

  /** A response: status and body text. */
  record Reply(int status, String body) {
    boolean ok() {
      return status / 100 == 2;
    }
  }

  private Http() {}

  static Reply get(String url, Duration timeout) throws IOException {
    return send(HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET(), Map.of());
  }

  static Reply send(
      String method, String url, String json, Duration timeout, Map<String, String> headers)
      throws IOException {
    HttpRequest.BodyPublisher body =
        json == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(json);
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(timeout)
            .method(method, body)
            .header("Content-Type", "application/json");
    return send(builder, headers);
  }

  private static Reply send(HttpRequest.Builder builder, Map<String, String> headers)
      throws IOException {
    headers.forEach(builder::header);
    try {
      HttpResponse<String> response =
          CLIENT.send(builder.build(), HttpResponse.BodyHandlers.ofString());
      return new Reply(response.statusCode(), response.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** {@code true} when GET url answers 2xx within the timeout. */
  static boolean healthy(String url, Duration timeout) {
    try {
      return get(url, timeout).ok();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
