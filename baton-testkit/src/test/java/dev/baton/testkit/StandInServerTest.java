package dev.baton.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** The stand-in server really stops (as a killed process would) and comes back on its port. */
class StandInServerTest {

  private static final HttpClient CLIENT = HttpClient.newHttpClient();

  private static int health(String url) throws IOException, InterruptedException {
    return CLIENT
        .send(
            HttpRequest.newBuilder(URI.create(url + "/health")).build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  @Test
  void killedStandInRefusesAndRestartServesAgain() throws Exception {
    try (VllmStandIn w = new VllmStandIn(VllmStandIn.Kind.BOTH, "m")) {
      assertThat(health(w.url())).isEqualTo(200);
      w.kill();
      assertThatThrownBy(() -> health(w.url())).isInstanceOf(IOException.class);
      w.restart();
      assertThat(health(w.url())).isEqualTo(200);
    }
  }
}
