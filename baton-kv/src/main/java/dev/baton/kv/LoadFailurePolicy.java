package dev.baton.kv;

/**
 * What a consumer does when loading external KV fails (peer gone, lease expired, ...): end the
 * request with an error the gateway can retry, or compute the missing prefix itself.
 */
public enum LoadFailurePolicy {
  FAIL("fail"),
  RECOMPUTE("recompute");

  private final String wireName;

  LoadFailurePolicy(String wireName) {
    this.wireName = wireName;
  }

  public String wireName() {
    return wireName;
  }

  public static LoadFailurePolicy fromWireName(String name) {
    for (LoadFailurePolicy policy : values()) {
      if (policy.wireName.equals(name)) {
        return policy;
      }
    }
    throw new IllegalArgumentException(
        "kv_load_failure_policy must be 'fail' or 'recompute', got '" + name + "'");
  }
}
