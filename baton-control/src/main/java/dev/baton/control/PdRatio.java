package dev.baton.control;

/**
 * Keeps a prefill:decode worker ratio when both roles scale: the role that is short of its share is
 * raised to match the other, never lowered, so coupling only adds capacity the ratio says the fleet
 * needs; both stay within their bounds.
 */
public final class PdRatio {

  private PdRatio() {}

  /** Prefill and decode worker counts. */
  public record Counts(int prefill, int decode) {}

  /**
   * The prefill:decode ratio a workload needs: the seconds of prefill work one request brings over
   * the seconds of decode-worker time it occupies (its output tokens times the step time shared by
   * the batch).
   *
   * @param prefillMs one prompt's prefill time at the observed prompt length
   * @param outputTokens the observed mean output length
   * @param decodeStepMs one decode step at the typical batch size
   * @param batch that batch size
   */
  public static double derive(
      double prefillMs, double outputTokens, double decodeStepMs, int batch) {
    if (!(prefillMs > 0) || !(outputTokens > 0) || !(decodeStepMs > 0) || batch < 1) {
      throw new IllegalArgumentException("ratio inputs must be positive");
    }
    return prefillMs / (outputTokens * decodeStepMs / batch);
  }

  /**
   * Couples two independent scaling decisions to {@code ratio} (prefill per decode worker).
   *
   * @param prefillMax upper bound of the prefill role
   * @param decodeMax upper bound of the decode role
   */
  public static Counts couple(
      int prefillDesired, int decodeDesired, double ratio, int prefillMax, int decodeMax) {
    if (!(ratio > 0) || Double.isInfinite(ratio)) {
      throw new IllegalArgumentException("the prefill:decode ratio must be a positive number");
    }
    int prefill = Math.max(prefillDesired, (int) Math.ceil(decodeDesired * ratio - 1e-9));
    int decode = Math.max(decodeDesired, (int) Math.ceil(prefillDesired / ratio - 1e-9));
    return new Counts(Math.min(prefill, prefillMax), Math.min(decode, decodeMax));
  }
}
