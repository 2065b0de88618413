package dev.baton.kv.p2p;

/**
 * How block bytes travel: {@code AUTO} copies device to device when both workers keep their KV in
 * device memory on this host (CUDA IPC), else uses shared memory when the peer is on this host and
 * exports its pool, TCP otherwise; {@code TCP}, {@code SHM} and {@code DEVICE} force one path.
 */
public enum Transport {
  AUTO,
  TCP,
  SHM,
  DEVICE;

  public static Transport fromWireName(String name) {
    return switch (name) {
      case "auto" -> AUTO;
      case "tcp" -> TCP;
      case "shm" -> SHM;
      case "device" -> DEVICE;
      default ->
          throw new IllegalArgumentException(
              "transport must be 'auto', 'tcp', 'shm' or 'device', got '" + name + "'");
    };
  }

  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
