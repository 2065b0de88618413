package dev.baton.core.config;

/** A configuration mistake; the message names the key path and what was expected. */
public final class ConfigException extends IllegalArgumentException {
  public ConfigException(String message) {
    super(message);
  }
}
