package dev.baton.engine.server;

import dev.baton.engine.sample.Sampler;
import dev.baton.engine.sample.SamplingParams;
import dev.baton.engine.sched.TokenSampler;
import java.util.Set;

/** Makes the per-request sampler for validated sampling settings. */
@FunctionalInterface
public interface SamplerFactory {

  TokenSampler create(SamplingSettings settings);

  /** The engine's {@link Sampler} (temperature, top-k/p, min-p, seed, penalties). */
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
      return new Sampler(p)::sample;
    };
  }
}
