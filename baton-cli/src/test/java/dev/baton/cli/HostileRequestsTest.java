package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.engine.server.Worker;
import dev.baton.engine.server.WorkerOptions;
import dev.baton.gateway.Gateway;
import dev.baton.gateway.GatewayConfig;
import dev.baton.model.RandomModel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile-request corpus (issue 12): every request parameter with values of the wrong type, out
 * of range or absurdly large, and bodies that are not JSON at all, sent to a real worker and to a
 * gateway in front of it. Each must get 200 or a 4xx in OpenAI's error shape with no internals, and
 * both servers must keep serving.
 */
class HostileRequestsTest {

  @TempDir static Path dir;
  static Worker worker;
  static Gateway gateway;
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  static final List<String> FIELDS =
      List.of(
          "model",
          "prompt",
          "max_tokens",
          "max_completion_tokens",
          "min_tokens",
          "temperature",
          "top_p",
          "top_k",
          "min_p",
          "n",
          "best_of",
          "stream",
          "stream_options",
          "stop",
          "stop_token_ids",
          "seed",
          "logprobs",
          "presence_penalty",
          "frequency_penalty",
          "repetition_penalty",
          "logit_bias",
          "ignore_eos",
          "echo",
          "suffix",
          "user",
          "cache_salt",
          "kv_transfer_params",
          "response_format",
          "tools",
          "tool_choice",
          "return_token_ids");

  /** Values of every JSON type and the edges that break naive parsing. */
  static final List<String> VALUES =
      List.of(
          "null",
          "\"x\"",
          "-1",
          "1e300",
          "2147483648",
          "-9223372036854775809",
          "[]",
          "{}",
          "true",
          "\"\\u0000\"",
          "\"" + "y".repeat(20_000) + "\"",
          "[[[[[[[[[[1]]]]]]]]]]");

  @BeforeAll
  static void start() {
    Path model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 11);
    WorkerOptions d = WorkerOptions.defaults(model);
    worker =
        Worker.start(
            d.with(new WorkerOptions.Listener("127.0.0.1", 0, "both", "tiny", null, 1 << 20))
                .with(new WorkerOptions.Compute("cpu", 1, 512))
                .with(new WorkerOptions.KvCache(16, 0, 256, d.kvCache().dtype(), true)));
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    "pools: [{workers: [{url: \"http://127.0.0.1:%d\"}]}]"
                        .formatted(worker.port())),
                null,
                null)
            .start(0);
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    if (worker != null) {
      worker.close();
    }
  }

  /** The corpus: each field set to each hostile value on an otherwise valid request. */
  static List<String> corpus() {
    List<String> out = new ArrayList<>();
    for (String field : FIELDS) {
      for (String value : VALUES) {
        out.add(
            "{\"model\":\"tiny\",\"prompt\":\"hello\",\"max_tokens\":2,\"temperature\":0,\""
                + field
                + "\":"
                + value
                + "}");
      }
    }
    out.add("");
    out.add("not json");
    out.add("[1,2,3]");
    out.add("\"just a string\"");
    out.add("{\"prompt\":");
    out.add("[".repeat(5000) + "]".repeat(5000));
    out.add("{\"prompt\":\"" + "\\ud800" + "\"}");
    out.add("{\"prompt\":[" + "1,".repeat(3000) + "1]}");
    out.add("{\"prompt\":[[1,2],[\"a\"]]}");
    out.add("{\"prompt\":[[]]}");
    return out;
  }

  private static HttpResponse<String> post(String base, String path, String body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static void check(String target, String path, String body, List<String> problems)
      throws Exception {
    HttpResponse<String> r = post(target, path, body);
    String shortBody = body.length() > 120 ? body.substring(0, 120) + "..." : body;
    int status = r.statusCode();
    if (status >= 500) {
      problems.add(target + path + " " + shortBody + " -> " + status + " " + r.body());
      return;
    }
    if (status != 200) {
      JsonNode answer;
      try {
        answer = Json.parse(r.body());
      } catch (IllegalArgumentException e) {
        problems.add(target + path + " " + shortBody + " -> " + status + " not JSON: " + r.body());
        return;
      }
      if (!answer.path("error").path("message").isTextual()) {
        problems.add(target + path + " " + shortBody + " -> " + status + " not OpenAI-shaped");
      }
    }
    if (r.body().contains("Exception")
        || r.body().contains("\tat ")
        || r.body().contains("java.")) {
      problems.add(target + path + " " + shortBody + " -> internals: " + r.body());
    }
  }

  @Test
  void everyHostileRequestGetsAnHonestAnswerAndBothServersKeepServing() throws Exception {
    List<String> corpus = corpus();
    assertThat(corpus).hasSizeGreaterThanOrEqualTo(250);
    String direct = "http://127.0.0.1:" + worker.port();
    String front = "http://127.0.0.1:" + gateway.port();
    List<String> problems = new ArrayList<>();
    for (String body : corpus) {
      check(direct, "/v1/completions", body, problems);
      check(front, "/v1/completions", body, problems);
    }
    for (String body : List.of("{\"messages\":\"hi\"}", "{\"messages\":[{\"role\":7}]}")) {
      check(direct, "/v1/chat/completions", body, problems);
      check(front, "/v1/chat/completions", body, problems);
    }
    assertThat(problems).as(String.join("\n", problems)).isEmpty();
    ObjectNode ok = Json.object().put("model", "tiny").put("prompt", "hello").put("max_tokens", 2);
    assertThat(post(direct, "/v1/completions", Json.write(ok)).statusCode()).isEqualTo(200);
    assertThat(post(front, "/v1/completions", Json.write(ok)).statusCode()).isEqualTo(200);
  }
}
