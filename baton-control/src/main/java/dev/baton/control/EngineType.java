package dev.baton.control;

import java.util.Locale;

/**
 * Which engine a role runs: a Baton worker, or an external engine (vLLM, SGLang) started from a
 * command template; the gateway speaks that engine's P/D protocol.
 */
public enum EngineType {
  BATON,
  VLLM,
  SGLANG;

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static EngineType parse(String name) {
    for (EngineType type : values()) {
      if (type.wireName().equals(name)) {
        return type;
      }
    }
    throw new IllegalArgumentException(
        "unknown engine '" + name + "' (expected baton, vllm or sglang)");
  }
}
