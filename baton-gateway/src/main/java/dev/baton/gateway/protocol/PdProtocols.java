package dev.baton.gateway.protocol;

import java.util.Map;
import java.util.TreeSet;
import java.util.function.Supplier;

/** The P/D protocols by the names a pool's {@code mode} uses (aliases included). */
public final class PdProtocols {

  private static final Map<String, Supplier<PdProtocol>> FACTORIES =
      Map.of(
          NixlProtocol.NAME,
          NixlProtocol::new,
          "vllm",
          NixlProtocol::new,
          "baton",
          NixlProtocol::new,
          SglangProtocol.NAME,
          SglangProtocol::new,
          ColocatedProtocol.NAME,
          ColocatedProtocol::new,
          "plain",
          ColocatedProtocol::new);

  private PdProtocols() {}

  /** Every registered name, sorted. */
  public static TreeSet<String> names() {
    return new TreeSet<>(FACTORIES.keySet());
  }

  /** The protocol called {@code name}; an unknown name is an error listing the known ones. */
  public static PdProtocol create(String name) {
    Supplier<PdProtocol> factory = FACTORIES.get(name);
    if (factory == null) {
      throw new IllegalArgumentException(
          "mode must be nixl, sglang or colocated, not '" + name + "'");
    }
    return factory.get();
  }
}
