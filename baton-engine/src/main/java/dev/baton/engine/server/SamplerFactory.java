package dev.baton.engine.server;

import dev.baton.engine.sample.Sampler;
import dev.baton.engine.sample.SamplingParams;
import dev.baton.engine.sched.TokenSampler;
import java.util.Set;

/** Makes the per-request sampler for validated sampling settings. */
@FunctionalInterface
public interface SamplerFactory {

  TokenSampler create(SamplingSettings settings);

  /** The engine's {@link Sampler} (temperature, top-k/p, min-p, seed, penalties, logit bias). */
  static SamplerFactory standard() {
    return s -> {
      SamplingParams p =
          new SamplingParams(
              (float) s.temperature(),
              Math.max(0, s.topK()),
              (float) s.topP(),
              (float) s.minP(),
              s.seed(),
              (float) s.repetitionPenalty(),
              (float) s.presencePenalty(),
              (float) s.frequencyPenalty(),
              Set.of());
      if (s.logitBias().isEmpty()
          && p.isGreedy()
          && p.repetitionPenalty() == 1f
          && p.presencePenalty() == 0f
          && p.frequencyPenalty() == 0f) {
        return TokenSampler.argmax();
      }
      TokenSampler sampler = new Sampler(p)::sample;
      if (s.logitBias().isEmpty()) {
        return sampler;
      }
      return (logits, tokens, promptLen, numTokens) -> {
        // Before penalties and temperature, as OpenAI applies logit_bias to the raw logits.
        s.logitBias().forEach((id, bias) -> logits[id] += bias);
        return sampler.sample(logits, tokens, promptLen, numTokens);
      };
    };
  }
}
