package dev.baton.control;

/**
 * How a cluster scales: {@code REPLICA} adds and removes whole xPyD groups (prefill and decode are
 * paired inside a group); {@code POOL} scales the prefill and decode pools independently.
 */
public enum Mode {
  REPLICA,
  POOL;

  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
