package dev.baton.engine.server;

import dev.baton.core.HttpTimeouts;

/**
 * How the worker's HTTP server listens.
 *
 * @param host bind address (loopback unless told otherwise)
 * @param port 0 = any free port
 * @param servedModelName the model name clients use (and {@code /v1/models} lists)
 * @param apiKey when non-null, every route but /health and /metrics needs {@code Authorization:
 *     Bearer KEY}
 * @param maxBodyBytes larger request bodies get 413
 * @param role both, prefill or decode (reported; the KV connector acts on it)
 */
public record ServerConfig(
    String host,
    int port,
    String servedModelName,
    String apiKey,
    long maxBodyBytes,
    String role,
    HttpTimeouts timeouts) {

  public ServerConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    if (maxBodyBytes <= 0) {
      throw new IllegalArgumentException("maxBodyBytes must be positive");
    }
    if (timeouts == null) {
      throw new IllegalArgumentException("timeouts must be given");
    }
  }
}
