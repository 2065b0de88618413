package dev.baton.model;

/**
 * A model file that Baton cannot read: bad magic, unsupported version, truncated data, unknown
 * tensor type or architecture. The message names the problem so the CLI can print it as is.
 */
public class ModelFormatException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ModelFormatException(String message) {
    super(message);
  }

  public ModelFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
