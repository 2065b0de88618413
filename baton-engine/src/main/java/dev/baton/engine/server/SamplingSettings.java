package dev.baton.engine.server;

/**
 * The sampling part of an OpenAI request, validated.
 *
 * @param temperature 0 = greedy
 * @param topP nucleus mass in (0, 1]
 * @param topK -1 (or 0) = off
 * @param minP 0 = off
 * @param seed null = unseeded
 * @param logitBias added to a token's logit before sampling (OpenAI's {@code logit_bias}); empty =
 *     none
 */
public record SamplingSettings(
    double temperature,
    double topP,
    int topK,
    double minP,
    Long seed,
    double presencePenalty,
    double frequencyPenalty,
    double repetitionPenalty,
    java.util.Map<Integer, Float> logitBias) {

  public SamplingSettings {
    logitBias = logitBias == null ? java.util.Map.of() : java.util.Map.copyOf(logitBias);
  }

  /** The same settings with another seed (choice {@code i} of {@code n} gets seed + i). */
  public SamplingSettings withSeed(Long newSeed) {
    return new SamplingSettings(
        temperature,
        topP,
        topK,
        minP,
        newSeed,
        presencePenalty,
        frequencyPenalty,
        repetitionPenalty,
        logitBias);
  }
}
