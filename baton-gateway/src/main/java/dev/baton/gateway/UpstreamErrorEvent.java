package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.io.IOException;

/**
 * Engines report a failure that happens after a stream started as an event, under HTTP 200: vLLM
 * {@code data: {"error": {"message", "type", "param", "code"}}} (a KV load that failed, a dead
 * engine), SGLang's OpenAI routes {@code {"error": {...}}} or {@code {"object": "error", ...}}, its
 * native {@code /generate} a chunk whose {@code meta_info.finish_reason} is {@code {"type":
 * "abort", "status_code": 500, "message"}} (a KV transfer that failed or timed out). Such an event
 * is the leg failing, not part of the answer.
 */
final class UpstreamErrorEvent {

  private UpstreamErrorEvent() {}

  /**
   * Why {@code data} (one SSE event's data) reports a worker-side failure, or null when it is an
   * ordinary chunk or an error that is the client's fault (a 4xx other than 408/429: relayed as it
   * is, like a worker's 4xx answer).
   */
  static String failureIn(String data) {
    if (!data.contains("\"error\"") && !data.contains("\"abort\"")) {
      return null; // the cheap test first: most chunks are tokens
    }
    JsonNode event;
    try {
      event = Json.MAPPER.readTree(data);
    } catch (IOException e) {
      return null;
    }
    if (event == null || !event.isObject()) {
      return null;
    }
    JsonNode error =
        event.has("error")
            ? event.get("error")
            : "error".equals(event.path("object").asText()) ? event : null;
    int code;
    String message;
    if (error != null) {
      code = code(error.path("code"));
      message = error.isTextual() ? error.asText() : error.path("message").asText("");
    } else {
      JsonNode finish = event.path("meta_info").path("finish_reason");
      if (!"abort".equals(finish.path("type").asText()) || !finish.has("status_code")) {
        return null; // a graceful abort (asked for) is an ordinary end
      }
      code = code(finish.path("status_code"));
      message = finish.path("message").asText("");
    }
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
      return null;
    }
    return "error event from the worker (" + code + "): " + message;
  }

  private static int code(JsonNode code) {
    if (code.isIntegralNumber()) {
      return code.asInt();
    }
    try {
      return Integer.parseInt(code.asText());
    } catch (NumberFormatException e) {
      return 500; // a name ("INTERNAL_SERVER_ERROR") or none: a server-side failure
    }
  }
}
