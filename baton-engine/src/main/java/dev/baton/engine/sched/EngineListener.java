package dev.baton.engine.sched;

/** Callbacks from the engine loop thread for metrics; must be quick and never throw. */
public interface EngineListener {

  EngineListener NONE = new EngineListener() {};

  /** A request was looked up in the prefix cache: {@code hits} of {@code queries} tokens found. */
  default void onPrefixLookup(int queries, int hits) {}

  /** First output token of a request (prompt tokens are counted here). */
  default void onFirstToken(EngineRequest request, double ttftSeconds) {}

  /** A later output token, {@code seconds} after the previous one. */
  default void onToken(double seconds) {}

  /** A request ended. */
  default void onFinished(EngineRequest request, FinishReason reason, double e2eSeconds) {}

  /** One engine step ran. */
  default void onStep(int prefillTokens, int decodeTokens, int numSeqs, double seconds) {}

  /** A running request was preempted to free blocks. */
  default void onPreemption() {}
}
