package dev.baton.control;

import java.util.Locale;

/**
 * What a worker does in the P/D flow; the name is the one `baton serve --role` and the gateway use.
 */
public enum Role {
  PREFILL,
  DECODE,
  BOTH;

  /** The lower-case name used in specs, flags and the gateway admin API. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The KV-transfer role a worker of this kind plays (vLLM's kv_role names). */
  public String kvRole() {
    return switch (this) {
      case PREFILL -> "kv_producer";
      case DECODE -> "kv_consumer";
      case BOTH -> "kv_both";
    };
  }

  public static Role parse(String name) {
    for (Role role : values()) {
      if (role.wireName().equals(name)) {
        return role;
      }
    }
    throw new IllegalArgumentException(
        "unknown role '" + name + "' (expected prefill, decode or both)");
  }
}
