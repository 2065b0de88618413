package dev.baton.bench;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;

/**
 * Where and how requests are sent.
 *
 * @param baseUrl the server, e.g. {@code http://127.0.0.1:8000}
 * @param endpoint the API path, {@code /v1/completions} or {@code /v1/chat/completions}
 * @param model the {@code model} field; null asks the server's {@code /v1/models} first
 * @param apiKey sent as {@code Authorization: Bearer}; null for none
 * @param stream streamed responses (the default) or whole ones
 * @param ignoreEos ask the server to generate exactly {@code max_tokens}
 * @param extraBody JSON object text merged into every request body, or null
 * @param requestTimeout how long one request may take in all
 */
public record EndpointConfig(
    URI baseUrl,
    String endpoint,
    String model,
    String apiKey,
    boolean stream,
    boolean ignoreEos,
    String extraBody,
    Duration requestTimeout) {

  public EndpointConfig {
    if (baseUrl == null || baseUrl.getScheme() == null || baseUrl.getHost() == null) {
      throw new IllegalArgumentException(
          "--base-url must be an absolute http(s) URL such as http://127.0.0.1:8000, got "
              + baseUrl);
    }
    String scheme = baseUrl.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("--base-url must use http or https, got " + baseUrl);
    }
    if (baseUrl.getPort() > 65535) {
      throw new IllegalArgumentException("--base-url has no valid port: " + baseUrl);
    }
    if (endpoint == null || !endpoint.startsWith("/")) {
      throw new IllegalArgumentException("--endpoint must start with '/', got " + endpoint);
    }
    if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
      throw new IllegalArgumentException("request timeout must be positive");
    }
  }

  /** A streaming completions endpoint with defaults, for tests and simple uses. */
  public static EndpointConfig of(String baseUrl, String endpoint) {
    return new EndpointConfig(
        URI.create(baseUrl), endpoint, null, null, true, false, null, Duration.ofMinutes(10));
  }

  /** Whether the endpoint speaks the chat API (messages in, deltas out). */
  public boolean chat() {
    return endpoint.endsWith("/chat/completions");
  }

  /** vLLM's backend name for this endpoint, used in result file names and JSON. */
  public String backend() {
    return chat() ? "openai-chat" : "openai";
  }

  /** The full URL of {@code path} on the server (base URL path prefix kept). */
  public URI resolve(String path) {
    String base = baseUrl.toString();
    if (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    return URI.create(base + path);
  }

  public EndpointConfig withModel(String newModel) {
    return new EndpointConfig(
        baseUrl, endpoint, newModel, apiKey, stream, ignoreEos, extraBody, requestTimeout);
  }

  public EndpointConfig withStream(boolean newStream) {
    return new EndpointConfig(
        baseUrl, endpoint, model, apiKey, newStream, ignoreEos, extraBody, requestTimeout);
  }

  public EndpointConfig withEndpoint(String newEndpoint) {
    return new EndpointConfig(
        baseUrl, newEndpoint, model, apiKey, stream, ignoreEos, extraBody, requestTimeout);
  }
}
