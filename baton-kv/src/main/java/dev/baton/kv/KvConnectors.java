package dev.baton.kv;

import dev.baton.kv.offload.OffloadConnector;
import dev.baton.kv.p2p.P2pConnector;
import java.util.Set;

/** Builds the connector a {@link KvTransferConfig} names. */
public final class KvConnectors {

  private KvConnectors() {}

  /** Connector names {@code kv_connector} accepts. */
  public static Set<String> names() {
    return Set.of(P2pConnector.NAME, OffloadConnector.NAME, MultiConnector.NAME);
  }

  /**
   * Builds the configured connector. It starts serving / loading once the engine calls {@link
   * KvConnector#registerKvCache}. Configuration mistakes (no secret, ...) are
   * IllegalArgumentExceptions.
   */
  public static KvConnector create(KvTransferConfig config) {
    return switch (config.connector()) {
      case P2pConnector.NAME -> new P2pConnector(config);
      case OffloadConnector.NAME -> new OffloadConnector(config);
      case MultiConnector.NAME -> new MultiConnector(config);
      default ->
          throw new IllegalArgumentException(
              "unknown kv_connector '" + config.connector() + "'; known: " + names());
    };
  }
}
