package dev.baton.engine.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {

  static float[] logits(long seed, int vocab) {
    Random r = new Random(seed);
    float[] l = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      l[i] = (float) r.nextGaussian() * 3;
    }
    return l;
  }

  @Test
  void greedyPicksTheArgmax() {
    float[] l = logits(1, 1000);
    int best = 0;
    for (int i = 0; i < l.length; i++) {
      if (l[i] > l[best]) {
        best = i;
      }
    }
    assertThat(new Sampler(SamplingParams.greedy()).sample(l.clone())).isEqualTo(best);
  }

  @Test
  void sameSeedSameTokensOtherSeedOtherTokens() {
    SamplingParams p = SamplingParams.random(1.0f, 42).withTopP(0.9f).withTopK(50);
    Sampler a = new Sampler(p);
    Sampler b = new Sampler(p);
    Sampler c = new Sampler(SamplingParams.random(1.0f, 43).withTopP(0.9f).withTopK(50));
    int differ = 0;
    for (int step = 0; step < 50; step++) {
      float[] l = logits(step, 5000);
      int ta = a.sample(l.clone());
      assertThat(b.sample(l.clone())).isEqualTo(ta);
      if (c.sample(l.clone()) != ta) {
        differ++;
      }
    }
    assertThat(differ).isPositive();
  }

  @Test
  void topKKeepsOnlyTheKMostLikely() {
    float[] l = logits(7, 2000);
    float[] sorted = l.clone();
    java.util.Arrays.sort(sorted);
    float kth = sorted[sorted.length - 5];
    Sampler s = new Sampler(SamplingParams.random(5f, 1).withTopK(5));
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 500; i++) {
      int t = s.sample(l.clone());
      assertThat(l[t]).isGreaterThanOrEqualTo(kth);
      seen.add(t);
    }
    assertThat(seen).hasSize(5);
  }

  @Test
  void topPKeepsTheNucleus() {
    // p = 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps exactly the first two.
    float[] l = {
      (float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)
    };
    Sampler s = new Sampler(SamplingParams.random(1f, 3).withTopP(0.75f));
    int[] hits = new int[4];
    for (int i = 0; i < 2000; i++) {
      hits[s.sample(l.clone())]++;
    }
    assertThat(hits[2] + hits[3]).isZero();
    assertThat(hits[0]).isBetween(1100, 1400); // 0.5/0.8 = 62.5 %
  }

  @Test
  void topPOverALargeFlatVocabularyStillWorks() {
    float[] l = new float[50_000]; // all equal: the nucleus is 90 % of the vocabulary
    Sampler s = new Sampler(SamplingParams.random(1f, 3).withTopP(0.9f));
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      seen.add(s.sample(l.clone()));
    }
    assertThat(seen.size()).isGreaterThan(150);
  }

  @Test
  void minPDropsUnlikelyTokens() {
    float[] l = {0f, (float) Math.log(0.5), (float) Math.log(0.05)};
    Sampler s = new Sampler(SamplingParams.random(1f, 5).withMinP(0.1f));
    int[] hits = new int[3];
    for (int i = 0; i < 1000; i++) {
      hits[s.sample(l.clone())]++;
    }
    assertThat(hits[2]).isZero();
    assertThat(hits[1]).isPositive();
  }

  @Test
  void penaltiesFollowVllmSemantics() {
    float[] l = {2f, -2f, 1f, 1f};
    int[] tokens = {0, 1, 2, 2}; // prompt {0, 1}, output {2, 2}
    SamplingParams p = SamplingParams.greedy().withPenalties(2f, 0.25f, 0.5f);
    new Sampler(p).sample(l, tokens, 2, 4);
    assertThat(l[0]).isEqualTo(1f); // repetition: positive logit divided
    assertThat(l[1]).isEqualTo(-4f); // repetition: negative logit multiplied
    assertThat(l[2]).isEqualTo(0.5f - 0.5f * 2 - 0.25f); // repetition, then frequency + presence
    assertThat(l[3]).isEqualTo(1f); // unseen
  }

  @Test
  void repetitionPenaltyChangesGreedyChoice() {
    float[] l = {3f, 2.5f};
    SamplingParams p = SamplingParams.greedy().withPenalties(1.5f, 0f, 0f);
    assertThat(new Sampler(p).sample(l, new int[] {0}, 1, 1)).isEqualTo(1);
  }

  @Test
  void temperatureSpreadsTheDistribution() {
    float[] l = {1f, 0f};
    Sampler cold = new Sampler(SamplingParams.random(0.1f, 9));
    Sampler hot = new Sampler(SamplingParams.random(10f, 9));
    int coldZero = 0;
    int hotZero = 0;
    for (int i = 0; i < 1000; i++) {
      coldZero += cold.sample(l.clone()) == 0 ? 1 : 0;
      hotZero += hot.sample(l.clone()) == 0 ? 1 : 0;
    }
    assertThat(coldZero).isGreaterThan(990);
    assertThat(hotZero).isBetween(450, 600);
  }

  @Test
  void badParametersAreRejectedWithClearMessages() {
    assertThatThrownBy(() -> SamplingParams.random(-1f, 1))
        .hasMessageContaining("temperature must be");
    assertThatThrownBy(() -> SamplingParams.greedy().withTopP(0f)).hasMessageContaining("top_p");
    assertThatThrownBy(() -> SamplingParams.greedy().withMinP(2f)).hasMessageContaining("min_p");
    assertThatThrownBy(() -> SamplingParams.greedy().withPenalties(0f, 0f, 0f))
        .hasMessageContaining("repetition_penalty");
  }
}
