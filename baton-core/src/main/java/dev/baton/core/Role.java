package dev.baton.core;

import java.util.Locale;

/**
 * What a worker does in the P/D flow. One type for the whole project: the CLI's {@code --role}, the
 * cluster spec, the gateway's worker list and the KV connector's {@code kv_role} (vLLM's names
 * {@code kv_producer}, {@code kv_consumer}, {@code kv_both} map onto prefill, decode and both).
 */
public enum Role {
  PREFILL("kv_producer"),
  DECODE("kv_consumer"),
  BOTH("kv_both");

  private final String kvRoleName;

  Role(String kvRoleName) {
    this.kvRoleName = kvRoleName;
  }

  /** The lower-case name used in specs, flags and the gateway admin API. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** vLLM's {@code kv_role} name for this role. */
  public String kvRoleName() {
    return kvRoleName;
  }

  /** Whether a worker of this role computes prompts whose KV others read. */
  public boolean canPrefill() {
    return this != DECODE;
  }

  /** Whether a worker of this role generates tokens (possibly from KV computed elsewhere). */
  public boolean canDecode() {
    return this != PREFILL;
  }

  /** Reads {@code prefill}, {@code decode} or {@code both} ({@code colocated} is a synonym). */
  public static Role parse(String name) {
    if ("colocated".equals(name)) {
      return BOTH;
    }
    for (Role role : values()) {
      if (role.wireName().equals(name)) {
        return role;
      }
    }
    throw new IllegalArgumentException("role must be prefill, decode or both, not '" + name + "'");
  }

  /** Reads vLLM's {@code kv_role} names. */
  public static Role fromKvRoleName(String name) {
    for (Role role : values()) {
      if (role.kvRoleName.equals(name)) {
        return role;
      }
    }
    throw new IllegalArgumentException(
        "kv_role must be one of kv_producer, kv_consumer, kv_both, got '" + name + "'");
  }
}
