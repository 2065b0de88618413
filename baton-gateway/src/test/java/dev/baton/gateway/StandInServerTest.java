package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The stand-in server really stops (as a killed process would) and comes back on its port. */
class StandInServerTest {

  @Test
  void killedStandInRefusesAndRestartServesAgain() throws Exception {
    try (VllmStandIn w = new VllmStandIn(VllmStandIn.Kind.BOTH, "m")) {
      assertThat(Http.get(w.url() + "/health").statusCode()).isEqualTo(200);
      w.kill();
      assertThatThrownBy(() -> Http.get(w.url() + "/health"))
          .isInstanceOf(java.io.UncheckedIOException.class);
      w.restart();
      assertThat(Http.get(w.url() + "/health").statusCode()).isEqualTo(200);
    }
  }
}
