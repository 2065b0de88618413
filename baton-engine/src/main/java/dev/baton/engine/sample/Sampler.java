package dev.baton.engine.sample;

import dev.baton.engine.ModelRunner;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token of one request from its logits: penalties, then temperature, then top-k,
 * min-p and top-p filters, then a draw from what is left (argmax when greedy). One instance per
 * request: it owns the request's random state, so the same seed gives the same tokens. Its {@link
 * #sample} has the shape of the scheduler's {@code TokenSampler}.
 */
public final class Sampler {

  /** Candidates examined first for top-p; doubled until the nucleus is complete. */
  private static final int FIRST_NUCLEUS = 64;

  private final SamplingParams params;
  private final SplittableRandom random;
  private int[] counts = new int[0];
  private long[] keys = new long[0];

  public Sampler(SamplingParams params) {
    this.params = params;
    long seed = params.seed() != null ? params.seed() : new SplittableRandom().nextLong();
    this.random = new SplittableRandom(seed);
  }

  public SamplingParams params() {
    return params;
  }

  /**
   * Returns the next token. {@code logits} (vocabulary size) is modified in place; {@code
   * tokens[0..promptLen)} is the prompt and {@code tokens[promptLen..numTokens)} the output so far
   * (for the penalties).
   */
  public int sample(float[] logits, int[] tokens, int promptLen, int numTokens) {
    applyPenalties(logits, tokens, promptLen, numTokens);
    if (params.isGreedy()) {
      return argmax(logits);
    }
    return draw(logits);
  }

  /** Samples without any token history (no penalties apply). */
  public int sample(float[] logits) {
    return sample(logits, new int[0], 0, 0);
  }

  static int argmax(float[] logits) {
    return ModelRunner.argmax(logits);
  }

  private void applyPenalties(float[] logits, int[] tokens, int promptLen, int numTokens) {
    boolean repetition = params.repetitionPenalty() != 1f;
    boolean additive = params.presencePenalty() != 0f || params.frequencyPenalty() != 0f;
    if (!repetition && !additive) {
      return;
    }
    if (counts.length < logits.length) {
      counts = new int[logits.length];
    }
    int vocab = logits.length;
    if (repetition) {
      // Each seen token once, prompt and output alike (vLLM / HF semantics).
      for (int i = 0; i < numTokens; i++) {
        int t = tokens[i];
        if (t >= 0 && t < vocab && counts[t] == 0) {
          counts[t] = 1;
          float l = logits[t];
          logits[t] = l > 0 ? l / params.repetitionPenalty() : l * params.repetitionPenalty();
        }
      }
      for (int i = 0; i < numTokens; i++) {
        if (tokens[i] >= 0 && tokens[i] < vocab) {
          counts[tokens[i]] = 0;
        }
      }
    }
    if (additive) {
      // Output tokens only.
      for (int i = promptLen; i < numTokens; i++) {
        if (tokens[i] >= 0 && tokens[i] < vocab) {
          counts[tokens[i]]++;
        }
      }
      for (int i = promptLen; i < numTokens; i++) {
        int t = tokens[i];
        if (t >= 0 && t < vocab && counts[t] > 0) {
          logits[t] -= params.frequencyPenalty() * counts[t] + params.presencePenalty();
          counts[t] = 0;
        }
      }
    }
  }

  /**
   * Draws from the filtered distribution. Candidates are kept as sortable keys (probability bits in
   * the high word, token id in the low word) so the top-p prefix needs no boxing.
   */
  private int draw(float[] logits) {
    int vocab = logits.length;
    float inv = 1f / params.temperature();
    float max = Float.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    // Unnormalized probabilities; the most likely token has exactly 1.
    float[] p = logits;
    for (int i = 0; i < vocab; i++) {
      p[i] = (float) Math.exp((p[i] - max) * inv);
    }
    int k = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
    float minKeep = params.minP() > 0 ? params.minP() : 0f;
    if (k == vocab && params.topP() >= 1f) {
      double total = 0;
      for (int i = 0; i < vocab; i++) {
        if (p[i] >= minKeep) {
          total += p[i];
        }
      }
      double u = random.nextDouble() * total;
      int last = 0;
      for (int i = 0; i < vocab; i++) {
        if (p[i] >= minKeep) {
          u -= p[i];
          last = i;
          if (u < 0) {
            return i;
          }
        }
      }
      return last;
    }
    // Candidates in descending probability: the top k, grown lazily for top-p.
    int n = 0;
    if (keys.length < vocab) {
      keys = new long[vocab];
    }
    for (int i = 0; i < vocab; i++) {
      if (p[i] >= minKeep) {
        keys[n++] = ((long) Float.floatToRawIntBits(p[i]) << 32) | i;
      }
    }
    int keep = Math.min(k, n);
    if (keep < n) {
      topToFront(keys, n, keep);
    }
    if (params.topP() < 1f) {
      double mass = 0;
      for (int i = 0; i < keep; i++) {
        mass += prob(keys[i]);
      }
      // Sort only as much of the head as the nucleus needs: real distributions are peaked.
      int want = Math.min(keep, FIRST_NUCLEUS);
      while (true) {
        topToFront(keys, keep, want);
        double acc = 0;
        int cut = -1;
        for (int i = 0; i < want; i++) {
          acc += prob(keys[i]);
          if (acc >= params.topP() * mass) {
            cut = i + 1;
            break;
          }
        }
        if (cut > 0) {
          keep = cut;
          break;
        }
        if (want == keep) {
          break;
        }
        want = Math.min(keep, want * 4);
      }
    }
    double kept = 0;
    for (int i = 0; i < keep; i++) {
      kept += prob(keys[i]);
    }
    double u = random.nextDouble() * kept;
    for (int i = 0; i < keep; i++) {
      u -= prob(keys[i]);
      if (u < 0) {
        return (int) keys[i];
      }
    }
    return (int) keys[keep - 1];
  }

  private static float prob(long key) {
    return Float.intBitsToFloat((int) (key >>> 32));
  }

  /**
   * Puts the {@code m} largest of {@code keys[0..n)} at the front in descending order and returns
   * {@code m}. Ties in probability fall to the larger token id, deterministically.
   */
  private static int topToFront(long[] keys, int n, int m) {
    if (m >= n) {
      Arrays.sort(keys, 0, n);
      reverse(keys, n);
      return n;
    }
    // Partial selection: quickselect the m-th largest, then sort the top part.
    int lo = 0;
    int hi = n - 1;
    int target = m - 1;
    while (lo < hi) {
      long pivot = keys[(lo + hi) >>> 1];
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (keys[i] > pivot) {
          i++;
        }
        while (keys[j] < pivot) {
          j--;
        }
        if (i <= j) {
          long t = keys[i];
          keys[i] = keys[j];
          keys[j] = t;
          i++;
          j--;
        }
      }
      if (target <= j) {
        hi = j;
      } else if (target >= i) {
        lo = i;
      } else {
        break;
      }
    }
    Arrays.sort(keys, 0, m);
    reverse(keys, m);
    return m;
  }

  private static void reverse(long[] a, int n) {
    for (int i = 0, j = n - 1; i < j; i++, j--) {
      long t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
