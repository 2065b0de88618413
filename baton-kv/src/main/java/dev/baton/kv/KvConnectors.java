package dev.baton.kv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;

/** Builds the connector a {@link KvTransferConfig} names. */
public final class KvConnectors {

  private KvConnectors() {}

  /** Connector names {@code kv_connector} accepts. */
  public static Set<String> names() {
    return Set.of(P2pConnector.NAME);
  }

  /** Builds and starts the configured connector (a producer starts listening at once). */
  public static KvConnector create(KvTransferConfig config, KvConnectorContext context) {
    return switch (config.connector()) {
      case P2pConnector.NAME -> {
        try {
          yield new P2pConnector(config, context);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot start the KV block server: " + e.getMessage(), e);
        }
      }
      default ->
          throw new IllegalArgumentException(
              "unknown kv_connector '" + config.connector() + "'; known: " + names());
    };
  }
}
