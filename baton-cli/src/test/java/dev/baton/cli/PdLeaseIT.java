package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.gateway.Gateway;
import dev.baton.gateway.GatewayConfig;
import dev.baton.model.RandomModel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Prefill leases with real {@code baton serve} processes behind the gateway: a batch of prompts
 * with {@code n > 1} takes one lease per prompt and sample, each pulled and released (greedy
 * outputs equal to a colocated worker's); a decode leg that the decode worker refuses releases its
 * prefill lease at once, not after the lease timeout (30 s by default).
 */
class PdLeaseIT {

  static final String SECRET = "pd-lease-it-cluster-secret-0123456789";
  static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10))
          .build();

  @TempDir static Path dir;
  static Path model;
  static final List<Process> PROCESSES = new ArrayList<>();
  static String colocated;
  static String prefill;
  static String decode;
  static String busyDecode;

  static String serve(String... args) throws IOException {
    List<String> cli =
        new ArrayList<>(
            List.of(
                "serve",
                "-m",
                model.toString(),
                "--served-model-name",
                "tiny",
                "--port",
                "0",
                "--threads",
                "1",
                "--max-model-len",
                "4096",
                "--num-kv-blocks",
                "600"));
    cli.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(CliProcess.command(List.of("-XX:TieredStopAtLevel=1", "-Xmx256m"), cli))
            .redirectErrorStream(true);
    pb.environment().put("BATON_KV_SECRET", SECRET);
    Process p = pb.start();
    synchronized (PROCESSES) {
      PROCESSES.add(p);
    }
    return "http://127.0.0.1:"
        + CliProcess.awaitServing(p, new StringBuffer(), Duration.ofSeconds(60));
  }

  static String[] kv(String role) {
    return new String[] {
      "--role",
      role.equals("kv_producer") ? "prefill" : "decode",
      "--kv-transfer-config",
      "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"" + role + "\"}"
    };
  }

  @BeforeAll
  static void start() throws Exception {
    model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 7);
    colocated = serve();
    prefill = serve(kv("kv_producer"));
    decode = serve(kv("kv_consumer"));
    String[] busy = kv("kv_consumer");
    List<String> busyArgs = new ArrayList<>(List.of(busy));
    busyArgs.addAll(List.of("--max-num-seqs", "1", "--max-waiting", "0"));
    busyDecode = serve(busyArgs.toArray(String[]::new));
  }

  @AfterAll
  static void stop() {
    for (Process p : PROCESSES) {
      CliProcess.stop(p);
    }
  }

  static Gateway gateway(String decodeUrl) {
    return new Gateway(
            GatewayConfig.parseYaml(
                """
                health: {timeout_ms: 3000}
                retry: {max_attempts: 2, backoff_ms: 10}
                pools:
                  - name: pd
                    mode: nixl
                    workers:
                      - {url: "%s", role: prefill}
                      - {url: "%s", role: decode}
                """
                    .formatted(prefill, decodeUrl)),
            null,
            null)
        .start(0);
  }

  static HttpResponse<String> post(String url, ObjectNode body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(90))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static int[] prompt(int length, long seed) {
    Random random = new Random(seed);
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) {
      ids[i] = 1 + random.nextInt(380);
    }
    return ids;
  }

  static ObjectNode request(List<int[]> prompts, int n, int maxTokens, boolean stream) {
    ObjectNode body = Json.object();
    body.put("model", "tiny");
    ArrayNode batch = body.putArray("prompt");
    for (int[] p : prompts) {
      ArrayNode ids = prompts.size() == 1 ? batch : batch.addArray();
      for (int id : p) {
        ids.add(id);
      }
    }
    body.put("n", n);
    body.put("max_tokens", maxTokens);
    body.put("temperature", 0);
    body.put("ignore_eos", true);
    body.put("stream", stream);
    return body;
  }

  /** Generated text per choice index, whole answer or stream. */
  static Map<Integer, String> texts(String body) {
    Map<Integer, String> out = new TreeMap<>();
    if (!body.startsWith("data:")) {
      for (JsonNode c : Json.parse(body).path("choices")) {
        out.put(c.path("index").asInt(), c.path("text").asText());
      }
      return out;
    }
    for (String line : body.split("\n")) {
      if (line.startsWith("data: {")) {
        for (JsonNode c : Json.parse(line.substring(6)).path("choices")) {
          out.merge(c.path("index").asInt(), c.path("text").asText(""), String::concat);
        }
      }
    }
    return out;
  }

  static double metric(String worker, String name) throws Exception {
    String text =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(worker + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*\\} ([0-9.eE+-]+)").matcher(text);
    assertThat(m.find()).as(name + " in\n" + text).isTrue();
    return Double.parseDouble(m.group(1));
  }

  static double prefillLegsServed() throws Exception {
    String text =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(prefill + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    double sum = 0;
    Matcher m =
        Pattern.compile("(?m)^vllm:request_success_total\\{[^}]*\\} ([0-9.eE+-]+)").matcher(text);
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  @ParameterizedTest(name = "stream={0}")
  @ValueSource(booleans = {false, true})
  void aBatchWithTwoSamplesEachTakesOneLeasePerSequenceAndReleasesEach(boolean stream)
      throws Exception {
    List<int[]> prompts = List.of(prompt(40, 1), prompt(70, 2));
    String first =
        texts(
                post(colocated + "/v1/completions", request(prompts.subList(0, 1), 1, 8, false))
                    .body())
            .get(0);
    String second =
        texts(
                post(colocated + "/v1/completions", request(prompts.subList(1, 2), 1, 8, false))
                    .body())
            .get(0);
    double legsBefore = prefillLegsServed();
    try (Gateway g = gateway(decode)) {
      HttpResponse<String> r =
          post("http://127.0.0.1:" + g.port() + "/v1/completions", request(prompts, 2, 8, stream));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(first).isNotEmpty();
      assertThat(texts(r.body()))
          .containsExactly(
              Map.entry(0, first), Map.entry(1, first), Map.entry(2, second), Map.entry(3, second));
    }
    assertThat(prefillLegsServed() - legsBefore)
        .as("one prefill per prompt and sample")
        .isEqualTo(4);
    // Every lease was pulled and released: nothing waits for the lease timeout.
    await()
        .atMost(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              assertThat(metric(prefill, "baton_kv_leases")).isZero();
              assertThat(metric(prefill, "vllm:kv_cache_usage_perc")).isZero();
              assertThat(metric(decode, "vllm:kv_cache_usage_perc")).isZero();
            });
  }

  @Test
  void aDecodeLegRefusedByAFullDecodeWorkerReleasesItsPrefillLeaseAtOnce() throws Exception {
    // Fill the decode worker's only slot with a long stream (read a first chunk so it runs).
    HttpRequest longOne =
        HttpRequest.newBuilder(URI.create(busyDecode + "/v1/completions"))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    Json.write(request(List.of(prompt(8, 3)), 1, 4000, true))))
            .build();
    HttpResponse<InputStream> running =
        HTTP.send(longOne, HttpResponse.BodyHandlers.ofInputStream());
    assertThat(running.statusCode()).isEqualTo(200);
    BufferedReader lines =
        new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
    assertThat(lines.readLine()).startsWith("data:");
    try (Gateway g = gateway(busyDecode)) {
      HttpResponse<String> refused =
          post(
              "http://127.0.0.1:" + g.port() + "/v1/completions",
              request(List.of(prompt(120, 4)), 1, 8, false));
      long answered = System.nanoTime();
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(502);
      assertThat(refused.body()).contains("HTTP 429");
      // Two attempts, two prefill leases; both released well within the 30 s lease timeout.
      await()
          .atMost(Duration.ofSeconds(1))
          .untilAsserted(
              () -> {
                assertThat(metric(prefill, "baton_kv_leases")).isZero();
                assertThat(metric(prefill, "vllm:kv_cache_usage_perc")).isZero();
              });
      System.out.printf(
          "prefill pool full-free %.0f ms after the gateway's answer%n",
          (System.nanoTime() - answered) / 1e6);
      assertThat(metric(busyDecode, "vllm:num_requests_running"))
          .as("the long stream still runs: the refusals were real")
          .isEqualTo(1);
    } finally {
      running.body().close();
    }
  }
}
