package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** SSE parsing and timing on scripted line arrival times. */
class StreamAccumulatorTest {

  private static final long MS = 1_000_000L;

  private static String completion(String text) {
    return "data: {\"choices\":[{\"index\":0,\"text\":\"" + text + "\"}]}";
  }

  @Test
  void timesChunksAsVllmDoes() {
    StreamAccumulator s = new StreamAccumulator(false, 1_000 * MS);
    s.onLine(": keep-alive", 1_010 * MS);
    s.onLine(completion("a"), 1_100 * MS);
    s.onLine("", 1_100 * MS);
    s.onLine(completion("b"), 1_130 * MS);
    s.onLine("", 1_131 * MS);
    s.onLine(completion("c"), 1_170 * MS);
    s.onLine("", 1_170 * MS);
    s.onLine(
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}",
        1_200 * MS);
    s.onLine("", 1_200 * MS);
    s.onLine("data: [DONE]", 1_210 * MS);
    s.onLine("", 1_210 * MS);
    RequestResult r = s.finish(1_220 * MS);
    assertThat(r.success()).isTrue();
    assertThat(r.ttftNanos()).isEqualTo(100 * MS);
    assertThat(r.itlNanos()).containsExactly(30 * MS, 40 * MS);
    assertThat(r.e2elNanos()).isEqualTo(170 * MS); // last chunk with choices, not [DONE]
    assertThat(r.outputTokens()).isEqualTo(3);
    assertThat(r.usageReported()).isTrue();
    assertThat(r.promptTokens()).isEqualTo(9);
    assertThat(r.generatedText()).isEqualTo("abc");
  }

  @Test
  void withoutUsageCountsChunksWithTextAndReadsChatDeltas() {
    StreamAccumulator s = new StreamAccumulator(true, 0);
    s.onLine("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}", 5 * MS);
    s.onLine("", 5 * MS);
    s.onLine("data:{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}", 7 * MS);
    s.onLine("", 7 * MS);
    s.onLine("data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}", 10 * MS);
    // stream ends without a blank line or [DONE]: the pending event still counts
    RequestResult r = s.finish(11 * MS);
    assertThat(r.success()).isTrue();
    assertThat(r.ttftNanos()).isEqualTo(5 * MS); // vLLM: the first chunk with choices
    assertThat(r.itlNanos()).containsExactly(2 * MS, 3 * MS);
    assertThat(r.outputTokens()).isEqualTo(2);
    assertThat(r.usageReported()).isFalse();
    assertThat(r.promptTokens()).isEqualTo(-1);
    assertThat(r.generatedText()).isEqualTo("hi there");
  }

  @Test
  void malformedJsonFailsTheRequest() {
    StreamAccumulator s = new StreamAccumulator(false, 0);
    s.onLine(completion("a"), MS);
    s.onLine("", MS);
    s.onLine("data: {not json", 2 * MS);
    s.onLine("", 2 * MS);
    RequestResult r = s.finish(3 * MS);
    assertThat(r.success()).isFalse();
    assertThat(r.errorKind()).isEqualTo("malformed SSE");
    assertThat(r.error()).contains("{not json");
  }

  @Test
  void aLineThatIsNoSseFieldFailsTheRequest() {
    StreamAccumulator s = new StreamAccumulator(false, 0);
    s.onLine("<html>oops</html>", MS);
    assertThat(s.finish(2 * MS).errorKind()).isEqualTo("malformed SSE");
  }

  @Test
  void errorEventFailsWithTheServersMessage() {
    StreamAccumulator s = new StreamAccumulator(false, 0);
    s.onLine("data: {\"error\":{\"message\":\"out of memory\"}}", MS);
    s.onLine("", MS);
    RequestResult r = s.finish(2 * MS);
    assertThat(r.errorKind()).isEqualTo("server error in stream");
    assertThat(r.error()).contains("out of memory");
  }

  @Test
  void aStreamWithoutChunksFails() {
    StreamAccumulator s = new StreamAccumulator(false, 0);
    s.onLine("data: [DONE]", MS);
    s.onLine("", MS);
    RequestResult r = s.finish(2 * MS);
    assertThat(r.success()).isFalse();
    assertThat(r.errorKind()).isEqualTo("no chunk");
  }
}
