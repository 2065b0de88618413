package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.EngineRequest;
import dev.baton.engine.sched.RequestOptions;
import dev.baton.engine.sched.Scheduler;
import dev.baton.engine.sched.SchedulerConfig;
import dev.baton.kv.KvConnector;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Admission and request parameters (issue 12): no 429 while running slots are free, a clear 400 for
 * what can never run, logit_bias applied, and unsupported parameters refused instead of ignored.
 */
class RequestLimitsTest {

  @Test
  void aBurstOnAnIdleWorkerIsAdmittedWhileRunningSlotsAreFree() {
    WorkerServerTest.SlowRunner runner = new WorkerServerTest.SlowRunner();
    runner.stepNanos = 50_000_000; // slow steps: the burst arrives before the loop catches up
    EngineMetrics metrics = new EngineMetrics("letters");
    try (Engine engine =
        new Engine(
                new Scheduler(
                    new SchedulerConfig(16, 256, 64, 512, 8, true, "letters", "F32"),
                    runner,
                    KvConnector.NONE,
                    metrics))
            .start()) {
      List<EngineRequest> burst = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        EngineRequest r =
            new EngineRequest(
                "b-" + i,
                new int[] {1, 2, 3},
                RequestOptions.of(2, Set.of()),
                (l, t, p, n) -> 1,
                t -> "a");
        engine.submit(r); // must not throw: 64 slots are free and only 8 may wait
        burst.add(r);
      }
      assertThat(burst).hasSize(30);
    } finally {
      runner.close();
    }
  }

  @Test
  void requestsThatCanNeverRunAreA400AndUnsupportedParametersAreRefused() throws Exception {
    WorkerServerTest.start();
    try {
      // 6 prompts x n 16 = 96 sequences; the test worker holds 16 running + 64 waiting.
      expect400(
          "/v1/completions",
          "{\"prompt\":[\"ab\",\"cd\",\"ef\",\"gh\",\"ij\",\"kl\"],\"n\":16,\"max_tokens\":2}",
          "n",
          "exceed what this worker can hold");
      expect400(
          "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
              + "\"response_format\":{\"type\":\"json_object\"}}",
          "response_format",
          "not supported");
      expect400(
          "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"auto\"}",
          "tool_choice",
          "not supported");
      expect400(
          "/v1/chat/completions",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"chat_template\":\"{{x}}\"}",
          "chat_template",
          "not supported");
      expect400(
          "/v1/completions",
          "{\"prompt\":\"ab\",\"logit_bias\":{\"x\":5}}",
          "logit_bias",
          "token ids");
      expect400(
          "/v1/completions",
          "{\"prompt\":\"ab\",\"logit_bias\":{\"5\":500}}",
          "logit_bias",
          "[-100, 100]");
      expect400(
          "/v1/completions",
          "{\"prompt\":\"ab\",\"logit_bias\":{\"9999\":1}}",
          "logit_bias",
          "outside the vocabulary");
      HttpResponse<String> ok =
          WorkerServerTest.post(
              "/v1/completions",
              "{\"prompt\":\"ab\",\"max_tokens\":2,\"logit_bias\":{\"5\":-100},"
                  + "\"response_format\":{\"type\":\"text\"},\"tool_choice\":\"none\"}");
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    } finally {
      WorkerServerTest.stop();
    }
  }

  private static void expect400(String path, String body, String param, String message)
      throws Exception {
    HttpResponse<String> r = WorkerServerTest.post(path, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    JsonNode error = Json.parse(r.body()).path("error");
    assertThat(error.path("param").asText()).isEqualTo(param);
    assertThat(error.path("message").asText()).contains(message);
  }

  @Test
  void logitBiasShiftsTheRawLogitsBeforeSampling() {
    SamplingSettings greedyWithBias =
        new SamplingSettings(0, 1, -1, 0, null, 0, 0, 1, Map.of(7, 100f, 3, -100f));
    float[] logits = new float[10];
    logits[3] = 50; // the best token, pushed down by the bias
    int token = SamplerFactory.standard().create(greedyWithBias).sample(logits, new int[0], 0, 0);
    assertThat(token).isEqualTo(7);
  }

  @Test
  void aBodyShorterThanItsLengthIsA400WithoutInternalsAndBearerIsCaseInsensitive()
      throws Exception {
    WorkerServerTest.start();
    try (java.net.Socket socket =
        new java.net.Socket("127.0.0.1", WorkerServerTest.server.port())) {
      socket.setSoTimeout(10_000);
      String body = "{\"prompt\":\"ab\"";
      String request =
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nauthorization: bearer sekret\r\n"
              + "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
              + body;
      socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      socket.shutdownOutput(); // the promised 500 bytes never come
      String answer =
          new String(
              socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 400");
      assertThat(answer).contains("could not be read").doesNotContain("Exception");
    } finally {
      WorkerServerTest.stop();
    }
  }
}
