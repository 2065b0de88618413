package dev.baton.engine.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;

/**
 * A request the worker refuses, rendered in OpenAI's error shape {@code {"error": {"message",
 * "type", "param", "code"}}} with an HTTP status.
 */
public final class ApiException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String param;
  private final String code;

  public ApiException(int status, String message, String param, String code) {
    super(message, null, false, false);
    this.status = status;
    this.param = param;
    this.code = code;
  }

  /** 400 for a bad value of {@code param}. */
  public static ApiException badRequest(String param, String message) {
    return new ApiException(400, message, param, null);
  }

  public int status() {
    return status;
  }

  /** OpenAI's error type for an HTTP status. */
  static String typeFor(int status) {
    return switch (status) {
      case 401 -> "authentication_error";
      case 404 -> "not_found_error";
      case 413 -> "request_too_large";
      case 429 -> "rate_limit_error";
      case 503 -> "service_unavailable_error";
      default -> status >= 500 ? "internal_server_error" : "invalid_request_error";
    };
  }

  public ObjectNode toJson() {
    return body(status, getMessage(), param, code);
  }

  static ObjectNode body(int status, String message, String param, String code) {
    ObjectNode root = Json.object();
    ObjectNode error = root.putObject("error");
    error.put("message", message);
    error.put("type", typeFor(status));
    error.put("param", param);
    error.put("code", code);
    return root;
  }
}
