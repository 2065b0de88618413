package dev.baton.kv.p2p;

/**
 * How block bytes travel: {@code AUTO} uses shared memory when the peer is on this host and exports
 * its pool, TCP otherwise; {@code TCP} and {@code SHM} force one path.
 */
public enum Transport {
  AUTO,
  TCP,
  SHM;

  public static Transport fromWireName(String name) {
    return switch (name) {
      case "auto" -> AUTO;
      case "tcp" -> TCP;
      case "shm" -> SHM;
      default ->
          throw new IllegalArgumentException(
              "transport must be 'auto', 'tcp' or 'shm', got '" + name + "'");
    };
  }

  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
