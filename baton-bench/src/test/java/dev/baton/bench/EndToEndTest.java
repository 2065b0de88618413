package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The generator against the scripted stub server over real loopback HTTP: known delays come back as
 * TTFT/ITL/TPOT, goodput counts the scripted fast requests, and every kind of server failure is a
 * counted failure with its reason.
 */
class EndToEndTest {

  private static final double[] P = {50, 99};

  private static BenchmarkResult run(
      String baseUrl, String endpoint, DatasetConfig dataset, LoadConfig load, Goodput goodput)
      throws InterruptedException {
    EndpointConfig e =
        new EndpointConfig(
            java.net.URI.create(baseUrl),
            endpoint,
            "m",
            null,
            true,
            false,
            null,
            Duration.ofSeconds(20));
    return run(e, dataset, load, goodput);
  }

  private static BenchmarkResult run(
      EndpointConfig e, DatasetConfig dataset, LoadConfig load, Goodput goodput)
      throws InterruptedException {
    try (OpenAiClient client = new OpenAiClient(e, new WordTokenizer()::count)) {
      Workload w = Datasets.build(dataset, new TextSynthesizer(new WordTokenizer()));
      BenchRunner runner =
          new BenchRunner(client, load, MetricsConfig.defaults().withGoodput(goodput));
      return runner.run(w);
    }
  }

  @Test
  void scriptedDelaysAreMeasured() throws Exception {
    StubServer.Script script =
        StubServer.Script.delays(Duration.ofMillis(150), Duration.ofMillis(80), 4);
    // Lower bounds are exact (the server cannot answer sooner); upper bounds leave room for a
    // loaded machine. Gaps of 80 ms keep a briefly starved reader from merging chunks.
    try (StubServer server = StubServer.start(0, script)) {
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(6, 10, 4, 1),
              LoadConfig.allAtOnce(),
              Goodput.NONE);
      assertThat(r.completed()).isEqualTo(6);
      assertThat(r.failed()).isZero();
      LatencyStats ttft = r.stats(LatencyMetric.TTFT);
      assertThat(ttft.meanMs()).isBetween(150.0, 150.0 + 250);
      assertThat(r.stats(LatencyMetric.ITL).count()).isEqualTo(6 * 3);
      assertThat(r.stats(LatencyMetric.ITL).medianMs()).isBetween(40.0, 80.0 + 150);
      assertThat(r.stats(LatencyMetric.E2EL).meanMs())
          .isBetween(150.0 + 3 * 80, 150.0 + 3 * 80 + 400);
      // TPOT is (E2EL - TTFT) / 3 per request
      double tpot = 0;
      for (int i = 0; i < 6; i++) {
        long[] gaps = r.itlNanos().get(i);
        tpot += (gaps[0] + gaps[1] + gaps[2]) / 3.0 / 1e6 / 6;
      }
      assertThat(r.stats(LatencyMetric.TPOT).meanMs()).isCloseTo(tpot, within(0.01));
      assertThat(r.totalOutputTokens()).isEqualTo(24); // from the usage chunk
      assertThat(r.totalInputTokens()).isEqualTo(60); // server usage: 10 words each
      assertThat(server.lastBody().path("stream_options").path("include_usage").asBoolean())
          .isTrue();
      assertThat(server.lastBody().path("max_tokens").asInt()).isEqualTo(4);
      assertThat(server.lastBody().path("model").asText()).isEqualTo("m");
    }
  }

  @Test
  void goodputCountsOnlyRequestsWithinTheSlo() throws Exception {
    // Even requests answer after 20 ms, odd ones after 400 ms; SLO ttft 200 ms.
    try (StubServer server =
        StubServer.start(
            0,
            i ->
                StubServer.Script.delays(
                    Duration.ofMillis(i % 2 == 0 ? 20 : 400), Duration.ZERO, 2))) {
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(10, 5, 2, 1),
              LoadConfig.allAtOnce().withMaxConcurrency(1),
              Goodput.parse(List.of("ttft:200")));
      assertThat(r.completed()).isEqualTo(10);
      assertThat(r.requestGoodput() * r.durationS()).isCloseTo(5.0, within(1e-6));
      assertThat(r.stats(LatencyMetric.TTFT).medianMs()).isLessThan(200);
      assertThat(r.stats(LatencyMetric.TTFT).at(99)).isGreaterThanOrEqualTo(400);
    }
  }

  @Test
  void serverFailuresAreCountedNotThrown() throws Exception {
    StubServer.Failure[] kinds = {
      StubServer.Failure.NONE,
      StubServer.Failure.HTTP_ERROR,
      StubServer.Failure.MALFORMED_SSE,
      StubServer.Failure.ERROR_EVENT,
      StubServer.Failure.DROP_CONNECTION
    };
    try (StubServer server =
        StubServer.start(
            0,
            i ->
                i % 5 == 0
                    ? StubServer.Script.delays(Duration.ZERO, Duration.ZERO, 3)
                    : StubServer.Script.failing(kinds[i % 5], 503))) {
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(20, 5, 3, 1),
              LoadConfig.allAtOnce().withMaxConcurrency(1),
              Goodput.NONE);
      assertThat(r.completed()).isEqualTo(4);
      assertThat(r.failed()).isEqualTo(16);
      assertThat(r.failureReasons())
          .containsOnlyKeys("HTTP 503", "malformed SSE", "server error in stream", "stream broken");
      assertThat(r.failureReasons().values()).containsOnly(4);
      assertThat(r.errors()).anySatisfy(e -> assertThat(e).contains("scripted failure"));
    }
  }

  @Test
  void unreachableServerIsCountedAsFailures() throws Exception {
    int port;
    try (var socket = new java.net.ServerSocket(0)) {
      port = socket.getLocalPort(); // free once closed: nothing listens there
    }
    BenchmarkResult r =
        run(
            "http://127.0.0.1:" + port,
            "/v1/completions",
            DatasetConfig.random(5, 5, 3, 1),
            LoadConfig.allAtOnce(),
            Goodput.NONE);
    assertThat(r.completed()).isZero();
    assertThat(r.failureReasons()).containsEntry("connect failed", 5);
    BenchmarkResult unknownHost =
        run(
            "http://no-such-host.invalid:80",
            "/v1/completions",
            DatasetConfig.random(2, 5, 3, 1),
            LoadConfig.allAtOnce(),
            Goodput.NONE);
    assertThat(unknownHost.failed()).isEqualTo(2);
  }

  @Test
  void requestTimeoutFailsSlowRequests() throws Exception {
    try (StubServer server =
        StubServer.start(0, StubServer.Script.delays(Duration.ofSeconds(3), Duration.ZERO, 2))) {
      EndpointConfig e =
          new EndpointConfig(
              java.net.URI.create(server.baseUrl()),
              "/v1/completions",
              "m",
              null,
              true,
              false,
              null,
              Duration.ofMillis(300));
      BenchmarkResult r =
          run(e, DatasetConfig.random(2, 5, 2, 1), LoadConfig.allAtOnce(), Goodput.NONE);
      assertThat(r.failureReasons()).containsEntry("timeout", 2);
      assertThat(r.durationS()).isLessThan(2.5);
    }
  }

  @Test
  void maxConcurrencyAndRateAreHonoured() throws Exception {
    try (StubServer server =
        StubServer.start(0, StubServer.Script.delays(Duration.ofMillis(30), Duration.ZERO, 1))) {
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(24, 5, 1, 1),
              LoadConfig.allAtOnce().withMaxConcurrency(3),
              Goodput.NONE);
      assertThat(r.completed()).isEqualTo(24);
      assertThat(server.maxConcurrent()).isEqualTo(3);
      // 20 requests at 40 req/s: the last arrives about 0.5 s after the first.
      BenchmarkResult paced =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(20, 5, 1, 1),
              LoadConfig.poisson(40, 3),
              Goodput.NONE);
      assertThat(paced.completed()).isEqualTo(20);
      assertThat(paced.durationS()).isBetween(0.2, 3.0);
    }
  }

  @Test
  void durationStopsSendingAndCyclesTheDataset() throws Exception {
    try (StubServer server =
        StubServer.start(0, StubServer.Script.delays(Duration.ofMillis(20), Duration.ZERO, 1))) {
      LoadConfig load =
          LoadConfig.allAtOnce().withMaxConcurrency(2).withDuration(Duration.ofMillis(600));
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(3, 5, 1, 1),
              load,
              Goodput.NONE);
      assertThat(r.completed()).isGreaterThan(3); // the 3 prompts were reused
      assertThat(r.durationS()).isBetween(0.55, 3.0);
    }
  }

  @Test
  void chatMultiTurnSendsSessionsAndHistory() throws Exception {
    try (StubServer server = StubServer.start(0, StubServer.Script.FAST)) {
      DatasetConfig d =
          DatasetConfig.random(3, 4, 2, 1).withName("multiturn").withMultiturnTurns(3);
      BenchmarkResult r =
          run(server.baseUrl(), "/v1/chat/completions", d, LoadConfig.allAtOnce(), Goodput.NONE);
      assertThat(r.completed()).isEqualTo(3);
      assertThat(server.lastSessionId()).isEqualTo("bench-1-0");
      // third turn: user, assistant, user, assistant, user
      assertThat(server.lastBody().path("messages").size()).isEqualTo(5);
      assertThat(server.lastBody().path("messages").path(1).path("content").asText())
          .isEqualTo(" tok tok");
      assertThat(server.lastBody().path("max_completion_tokens").asInt()).isEqualTo(2);
      assertThat(r.inputLens()).containsExactly(4, 4 + 2 + 4, 4 + 2 + 4 + 2 + 4);
    }
  }

  @Test
  void nonStreamingUsesWholeResponses() throws Exception {
    try (StubServer server =
        StubServer.start(
            0, StubServer.Script.delays(Duration.ofMillis(50), Duration.ofMillis(10), 3))) {
      EndpointConfig e = EndpointConfig.of(server.baseUrl(), "/v1/completions").withStream(false);
      BenchmarkResult r =
          run(e, DatasetConfig.random(2, 5, 3, 1), LoadConfig.allAtOnce(), Goodput.NONE);
      assertThat(r.completed()).isEqualTo(2);
      assertThat(r.totalOutputTokens()).isEqualTo(6);
      assertThat(r.stats(LatencyMetric.TTFT).meanMs())
          .isEqualTo(r.stats(LatencyMetric.E2EL).meanMs());
      assertThat(r.stats(LatencyMetric.ITL).count()).isZero();
      assertThat(server.lastBody().has("stream_options")).isFalse();
    }
  }

  @Test
  void keepAliveConnectionsAreReused() throws Exception {
    try (StubServer server = StubServer.start(0, StubServer.Script.FAST)) {
      BenchmarkResult r =
          run(
              server.baseUrl(),
              "/v1/completions",
              DatasetConfig.random(300, 3, 2, 1),
              LoadConfig.allAtOnce().withMaxConcurrency(4),
              Goodput.NONE);
      assertThat(r.completed()).isEqualTo(300);
      assertThat(server.connectionsAccepted()).isLessThanOrEqualTo(8);
    }
  }

  @Test
  void warmUpRequestsAreSentButNotMeasured() throws Exception {
    try (StubServer server = StubServer.start(0, StubServer.Script.FAST);
        OpenAiClient client =
            new OpenAiClient(EndpointConfig.of(server.baseUrl(), "/v1/completions"), s -> 0)) {
      Workload w =
          Datasets.build(
              DatasetConfig.random(5, 3, 2, 1), new TextSynthesizer(new WordTokenizer()));
      BenchRunner runner =
          new BenchRunner(client, LoadConfig.allAtOnce().withWarmups(3), MetricsConfig.defaults());
      assertThat(runner.warmUp(w)).hasSize(3).allMatch(RequestResult::success);
      BenchmarkResult r = runner.run(w);
      assertThat(r.completed()).isEqualTo(5);
      assertThat(server.requests()).isEqualTo(8);
    }
  }
}
