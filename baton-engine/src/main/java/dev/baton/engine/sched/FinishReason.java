package dev.baton.engine.sched;

/** Why a request ended; {@link #apiName} is the OpenAI {@code finish_reason}. */
public enum FinishReason {
  STOP("stop"),
  LENGTH("length"),
  ABORT("abort"),
  ERROR("error");

  public final String apiName;

  FinishReason(String apiName) {
    this.apiName = apiName;
  }
}
