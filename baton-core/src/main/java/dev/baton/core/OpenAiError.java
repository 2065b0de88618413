package dev.baton.core;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * An error in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}}, as workers
 * and the gateway answer it. {@code param} names the offending request field (or null); {@code
 * code} is a short machine-readable string (or null), never a number or a Java class name.
 */
public record OpenAiError(String message, String type, String param, String code) {

  /** The error type OpenAI (and vLLM) use for an HTTP status. */
  public static String typeFor(int status) {
    return switch (status) {
      case 400, 422 -> "invalid_request_error";
      case 413 -> "request_too_large";
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 404 -> "not_found_error";
      case 429 -> "rate_limit_error";
      case 503 -> "service_unavailable_error";
      default -> status >= 500 ? "internal_server_error" : "invalid_request_error";
    };
  }

  /** An error whose type follows from the HTTP status. */
  public static OpenAiError of(int status, String message, String param, String code) {
    return new OpenAiError(message, typeFor(status), param, code);
  }

  public ObjectNode toJson() {
    ObjectNode root = Json.object();
    ObjectNode error = root.putObject("error");
    error.put("message", message);
    error.put("type", type);
    error.put("param", param);
    error.put("code", code);
    return root;
  }
}
