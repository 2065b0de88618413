package dev.baton.kv;

import java.util.Arrays;
import java.util.stream.Collectors;

/** What a worker does with KV: produce it (prefill), consume it (decode), or both. */
public enum KvRole {
  KV_PRODUCER("kv_producer"),
  KV_CONSUMER("kv_consumer"),
  KV_BOTH("kv_both");

  private final String wireName;

  KvRole(String wireName) {
    this.wireName = wireName;
  }

  /** The name used in {@code --kv-transfer-config} (vLLM's spelling). */
  public String wireName() {
    return wireName;
  }

  public boolean produces() {
    return this != KV_CONSUMER;
  }

  public boolean consumes() {
    return this != KV_PRODUCER;
  }

  public static KvRole fromWireName(String name) {
    for (KvRole role : values()) {
      if (role.wireName.equals(name)) {
        return role;
      }
    }
    throw new IllegalArgumentException(
        "kv_role must be one of "
            + Arrays.stream(values()).map(KvRole::wireName).collect(Collectors.joining(", "))
            + ", got '"
            + name
            + "'");
  }
}
