package dev.baton.control;

import java.util.List;

/** A cluster spec that cannot run; the message lists every problem found, one per line. */
public final class SpecException extends IllegalArgumentException {

  private final List<String> problems;

  public SpecException(String source, List<String> problems) {
    super("invalid cluster spec " + source + ":\n  - " + String.join("\n  - ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
