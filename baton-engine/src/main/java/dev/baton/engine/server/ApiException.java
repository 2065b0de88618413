package dev.baton.engine.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.OpenAiError;

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

  public ObjectNode toJson() {
    return body(status, getMessage(), param, code);
  }

  static ObjectNode body(int status, String message, String param, String code) {
    return OpenAiError.of(status, message, param, code).toJson();
  }
}
