package dev.baton.engine.sched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Interpreting sampled tokens without an engine: text, stop strings, min_tokens, logprobs. */
class OutputProcessorTest {

  /** Token t decodes to the letter 'a' + t. */
  private static final Detokenizer LETTERS = t -> Character.toString('a' + t % 26);

  private static EngineRequest request(RequestOptions o) {
    return new EngineRequest("r", new int[] {0}, o, (l, t, p, n) -> 0, LETTERS);
  }

  private static OutputProcessor.Output feed(EngineRequest r, int token) {
    r.append(token);
    return OutputProcessor.afterSampling(r, token, null, 1 << 20);
  }

  @Test
  void aStopStringIsHeldBackUntilItCanNoLongerMatchAndIsNeverShown() {
    // stop "cd": the last (stop length - 1) characters wait for the next token, so "a" shows
    // when "b" arrives, "b" when "c" does, and "cd" is never shown.
    EngineRequest r =
        request(
            new RequestOptions(10, 0, false, Set.of(), List.of("cd"), Set.of(), -1, null, null));
    assertThat(feed(r, 0).delta()).isEmpty();
    assertThat(feed(r, 1).delta()).isEqualTo("a");
    OutputProcessor.Output c = feed(r, 2);
    assertThat(c.delta()).isEqualTo("b");
    assertThat(c.reason()).isNull();
    OutputProcessor.Output d = feed(r, 3);
    assertThat(d.reason()).isEqualTo(FinishReason.STOP);
    assertThat(d.stopReason()).isEqualTo("cd");
    assertThat(d.delta()).isEmpty();
  }

  @Test
  void eosAndStopTokensAreMaskedUntilMinTokensAndEndTheRequestAfter() {
    RequestOptions o =
        new RequestOptions(10, 2, false, Set.of(7), List.of(), Set.of(8), -1, null, null);
    EngineRequest r = request(o);
    float[] logits = new float[10];
    OutputProcessor.beforeSampling(r, logits);
    assertThat(logits[7]).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(logits[8]).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(feed(r, 1).reason()).isNull();
    assertThat(feed(r, 1).reason()).isNull();
    float[] later = new float[10];
    OutputProcessor.beforeSampling(r, later);
    assertThat(later[7]).isZero();
    OutputProcessor.Output stop = feed(r, 8);
    assertThat(stop.reason()).isEqualTo(FinishReason.STOP);
    assertThat(stop.stopReason()).isEqualTo(8);
  }

  @Test
  void lengthEndsTheRequestAndLogprobsComeFromTheUnmaskedLogits() {
    RequestOptions o =
        new RequestOptions(1, 0, false, Set.of(), List.of(), Set.of(), 2, null, null);
    EngineRequest r = request(o);
    float[] logits = {0f, (float) Math.log(3), 0f};
    float[] raw = OutputProcessor.beforeSampling(r, logits);
    r.append(1);
    OutputProcessor.Output out = OutputProcessor.afterSampling(r, 1, raw, 1 << 20);
    assertThat(out.reason()).isEqualTo(FinishReason.LENGTH);
    assertThat((double) out.logprob()).isCloseTo(Math.log(3.0 / 5.0), within(1e-5));
    assertThat(out.topIds()).containsExactly(1, 0);
  }
}
