package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which stream events are a worker failing (vLLM's and SGLang's error events) and which not. */
class UpstreamErrorEventTest {

  @Test
  void serverSideErrorEventsAreFailures() {
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"error\":{\"message\":\"EngineCore encountered an issue.\","
                    + "\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}"))
        .contains("500")
        .contains("EngineCore");
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"error\":{\"object\":\"error\",\"message\":\"KV transfer failed\","
                    + "\"type\":\"INTERNAL_SERVER_ERROR\",\"param\":null,\"code\":500}}"))
        .contains("KV transfer failed");
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"object\":\"error\",\"message\":\"m\",\"type\":\"503\",\"code\":503}"))
        .contains("503");
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"text\":\"\",\"meta_info\":{\"id\":\"r\",\"finish_reason\":"
                    + "{\"type\":\"abort\",\"message\":\"timed out\",\"status_code\":500}}}"))
        .contains("timed out");
    assertThat(UpstreamErrorEvent.failureIn("{\"error\":{\"message\":\"overloaded\"}}"))
        .as("no code: a server-side failure")
        .isNotNull();
  }

  @Test
  void tokensClientErrorsAndAskedForAbortsAreNot() {
    assertThat(UpstreamErrorEvent.failureIn("{\"choices\":[{\"text\":\"error\"}]}")).isNull();
    assertThat(UpstreamErrorEvent.failureIn("{\"choices\":[{\"text\":\" \\\"error\\\"\"}]}"))
        .isNull();
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"error\":{\"message\":\"bad\",\"type\":\"BadRequestError\",\"code\":400}}"))
        .as("the client's fault: relayed as it is")
        .isNull();
    assertThat(
            UpstreamErrorEvent.failureIn(
                "{\"text\":\"x\",\"meta_info\":{\"finish_reason\":"
                    + "{\"type\":\"abort\",\"message\":\"Abort before prefill\"}}}"))
        .isNull();
    assertThat(UpstreamErrorEvent.failureIn("not json \"error\"")).isNull();
  }
}
