package dev.baton.engine.sched;

/**
 * What a sampled token means for its request's output: whether it may be sampled at all yet ({@code
 * min_tokens} masks end-of-sequence and stop tokens), the text it adds (detokenized, held back
 * while it could still be the start of a stop string), whether the request ends here (EOS, stop
 * token, stop string, length) and its logprobs. The scheduler samples; this class interprets.
 */
final class OutputProcessor {

  /** One token's contribution: the visible text delta, the end (or null), logprobs. */
  record Output(
      String delta,
      FinishReason reason,
      Object stopReason,
      float logprob,
      int[] topIds,
      float[] topLogprobs) {}

  private OutputProcessor() {}

  /**
   * Before sampling: masks tokens that would end the request before {@code min_tokens}; returns a
   * copy of the unmasked logits when logprobs are asked for (else null).
   */
  static float[] beforeSampling(EngineRequest r, float[] logits) {
    RequestOptions o = r.options();
    float[] raw = o.logprobs() >= 0 ? logits.clone() : null;
    if (r.numOutput() < o.minTokens()) {
      for (int t : o.eosTokenIds()) {
        maskToken(logits, t);
      }
      for (int t : o.stopTokenIds()) {
        maskToken(logits, t);
      }
    }
    return raw;
  }

  /** After {@code token} was appended to the request: its text, end and logprobs. */
  static Output afterSampling(EngineRequest r, int token, float[] raw, int maxModelLen) {
    RequestOptions o = r.options();
    boolean canStop = r.numOutput() >= o.minTokens();
    FinishReason reason = null;
    Object stopReason = null;
    boolean isEos = o.eosTokenIds().contains(token);
    if (canStop && isEos && !o.ignoreEos()) {
      reason = FinishReason.STOP;
    } else if (canStop && o.stopTokenIds().contains(token)) {
      reason = FinishReason.STOP;
      stopReason = token;
    }
    String piece = reason == null && !isEos ? r.detokenizer().next(token) : "";
    r.text.append(piece);
    int visibleEnd = r.text.length();
    if (reason == null && !o.stop().isEmpty()) {
      int from = Math.max(0, r.text.length() - piece.length() - maxStopLen(o) + 1);
      for (String s : o.stop()) {
        int at = r.text.indexOf(s, from);
        if (at >= 0 && canStop && (reason == null || at < visibleEnd)) {
          reason = FinishReason.STOP;
          stopReason = s;
          visibleEnd = at;
        }
      }
      if (reason == null) {
        // Hold back what could still become a stop string.
        visibleEnd = Math.max(r.sentChars, r.text.length() - maxStopLen(o) + 1);
      }
    }
    if (reason == null && (r.numOutput() >= o.maxTokens() || r.numTokens >= maxModelLen)) {
      reason = FinishReason.LENGTH;
      visibleEnd = r.text.length();
    }
    String delta = r.text.substring(r.sentChars, Math.max(r.sentChars, visibleEnd));
    r.sentChars += delta.length();
    float logprob = 0;
    int[] topIds = null;
    float[] topLps = null;
    if (raw != null) {
      float lse = logSumExp(raw);
      logprob = raw[token] - lse;
      topIds = topK(raw, o.logprobs());
      topLps = new float[topIds.length];
      for (int k = 0; k < topIds.length; k++) {
        topLps[k] = raw[topIds[k]] - lse;
      }
    }
    return new Output(delta, reason, stopReason, logprob, topIds, topLps);
  }

  private static int maxStopLen(RequestOptions o) {
    int m = 0;
    for (String s : o.stop()) {
      m = Math.max(m, s.length());
    }
    return m;
  }

  private static void maskToken(float[] logits, int t) {
    if (t >= 0 && t < logits.length) {
      logits[t] = Float.NEGATIVE_INFINITY;
    }
  }

  static float logSumExp(float[] x) {
    float max = Float.NEGATIVE_INFINITY;
    for (float v : x) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (float v : x) {
      sum += Math.exp(v - max);
    }
    return (float) (max + Math.log(sum));
  }

  /** Indices of the {@code k} largest values, largest first (ties: lower index first). */
  static int[] topK(float[] x, int k) {
    k = Math.min(k, x.length);
    int[] best = new int[k];
    int size = 0;
    for (int i = 0; i < x.length; i++) {
      if (size < k) {
        best[size++] = i;
      } else if (x[i] > x[best[k - 1]]) {
        best[k - 1] = i;
      } else {
        continue;
      }
      for (int j = size - 1; j > 0 && x[best[j]] > x[best[j - 1]]; j--) {
        int t = best[j];
        best[j] = best[j - 1];
        best[j - 1] = t;
      }
    }
    return best;
  }
}
