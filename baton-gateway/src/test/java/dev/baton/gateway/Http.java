package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A real HTTP client for the tests, plus SSE helpers. */
final class Http {
  static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private Http() {}

  static HttpResponse<String> post(String url, String json, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b.build());
  }

  static HttpResponse<String> get(String url, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b.build());
  }

  static HttpResponse<String> delete(String url, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).DELETE();
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b.build());
  }

  private static HttpResponse<String> send(HttpRequest r) {
    try {
      return CLIENT.send(r, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The generated text of an answer: whole JSON or an SSE stream, completion or chat. */
  static String text(String body, boolean chat) {
    if (body.startsWith("data:")) {
      StringBuilder sb = new StringBuilder();
      for (String line : body.split("\n")) {
        if (!line.startsWith("data:")) {
          continue;
        }
        String data = line.substring(5).trim();
        if (data.equals("[DONE]")) {
          break;
        }
        JsonNode c = Json.parse(data);
        if (c.has("error")) {
          sb.append("<error:").append(c.path("error").path("message").asText()).append('>');
          continue;
        }
        JsonNode choice = c.path("choices").path(0);
        sb.append(
            chat
                ? choice.path("delta").path("content").asText("")
                : choice.path("text").asText(""));
      }
      return sb.toString();
    }
    JsonNode choice = Json.parse(body).path("choices").path(0);
    return chat ? choice.path("message").path("content").asText() : choice.path("text").asText();
  }

  static boolean endsWithDone(String sse) {
    return sse.strip().endsWith("data: [DONE]");
  }
}
