package dev.baton.engine.sched;

/**
 * Turns one request's output tokens into text incrementally. {@link #next} returns only the new
 * text; it may return "" while a multi-byte character is incomplete.
 */
@FunctionalInterface
public interface Detokenizer {

  String next(int token);

  /** For requests that want no text: every token decodes to "". */
  Detokenizer NONE = token -> "";
}
