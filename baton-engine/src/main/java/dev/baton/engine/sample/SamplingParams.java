package dev.baton.engine.sample;

import java.util.Set;

/**
 * How one request picks its tokens (OpenAI / vLLM semantics).
 *
 * @param temperature 0 = greedy (argmax); otherwise logits are divided by it
 * @param topK keep the k most likely tokens; 0 or less = all
 * @param topP keep the smallest set of most likely tokens whose probability reaches p; 1 = all
 * @param minP drop tokens less likely than {@code minP} times the most likely one; 0 = none
 * @param seed random seed; the same seed gives the same tokens; null = a fresh random seed
 * @param repetitionPenalty divides positive (multiplies negative) logits of tokens seen in the
 *     prompt or output; 1 = off
 * @param presencePenalty subtracted from the logit of every token already in the output; 0 = off
 * @param frequencyPenalty subtracted once per occurrence in the output; 0 = off
 * @param stopTokenIds tokens that end generation (besides the model's EOS, which the caller adds)
 */
public record SamplingParams(
    float temperature,
    int topK,
    float topP,
    float minP,
    Long seed,
    float repetitionPenalty,
    float presencePenalty,
    float frequencyPenalty,
    Set<Integer> stopTokenIds) {

  public SamplingParams {
    if (!(temperature >= 0) || Float.isInfinite(temperature)) {
      throw new IllegalArgumentException(
          "temperature must be a finite number >= 0, got " + temperature);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
    if (!(minP >= 0 && minP <= 1)) {
      throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
    }
    if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
      throw new IllegalArgumentException(
          "repetition_penalty must be a finite number > 0, got " + repetitionPenalty);
    }
    if (!Float.isFinite(presencePenalty) || !Float.isFinite(frequencyPenalty)) {
      throw new IllegalArgumentException("presence/frequency penalties must be finite");
    }
    stopTokenIds = Set.copyOf(stopTokenIds);
  }

  /** Greedy decoding, no penalties. */
  public static SamplingParams greedy() {
    return new SamplingParams(0f, 0, 1f, 0f, null, 1f, 0f, 0f, Set.of());
  }

  /** Sampling at {@code temperature} with a fixed {@code seed}, no other filters. */
  public static SamplingParams random(float temperature, long seed) {
    return new SamplingParams(temperature, 0, 1f, 0f, seed, 1f, 0f, 0f, Set.of());
  }

  public SamplingParams withTopK(int k) {
    return new SamplingParams(
        temperature,
        k,
        topP,
        minP,
        seed,
        repetitionPenalty,
        presencePenalty,
        frequencyPenalty,
        stopTokenIds);
  }

  public SamplingParams withTopP(float p) {
    return new SamplingParams(
        temperature,
        topK,
        p,
        minP,
        seed,
        repetitionPenalty,
        presencePenalty,
        frequencyPenalty,
        stopTokenIds);
  }

  public SamplingParams withMinP(float p) {
    return new SamplingParams(
        temperature,
        topK,
        topP,
        p,
        seed,
        repetitionPenalty,
        presencePenalty,
        frequencyPenalty,
        stopTokenIds);
  }

  public SamplingParams withPenalties(float repetition, float presence, float frequency) {
    return new SamplingParams(
        temperature, topK, topP, minP, seed, repetition, presence, frequency, stopTokenIds);
  }

  public SamplingParams withStopTokenIds(Set<Integer> ids) {
    return new SamplingParams(
        temperature,
        topK,
        topP,
        minP,
        seed,
        repetitionPenalty,
        presencePenalty,
        frequencyPenalty,
        ids);
  }

  /** True when sampling ignores randomness (temperature 0). */
  public boolean isGreedy() {
    return temperature == 0f;
  }
}
