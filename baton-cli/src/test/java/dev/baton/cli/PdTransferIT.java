package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.KvTransferParams;
import dev.baton.model.RandomModel;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Prefill/decode disaggregation end to end with real {@code baton serve} processes on a tiny random
 * model: the test plays the gateway (vLLM NixlConnector protocol), and greedy outputs of
 * prefill-worker → decode-worker must equal the same request on one colocated worker.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PdTransferIT {

  static final String SECRET = "pd-transfer-it-cluster-secret";
  static final int MAX_TOKENS = 8;

  @TempDir static Path dir;
  static Path model;
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  static final List<Worker> ALL = new ArrayList<>();
  static Worker colocated32;
  static Worker prefill32;
  static Worker decode32;
  static Worker decodeRecompute32;
  static Worker colocated16;
  static Worker prefill16;
  static Worker decode16;
  static Worker doomedPrefill;
  static Worker fencedDecode;

  /** A {@code baton serve} process; {@link #kill()} is kill -9. */
  static final class Worker implements AutoCloseable {
    final Process process;
    final StringBuffer output = new StringBuffer();
    final CompletableFuture<Integer> port;

    Worker(String... args) throws IOException {
      List<String> cliArgs =
          new ArrayList<>(
              List.of(
                  "serve",
                  "-m",
                  model.toString(),
                  "--port",
                  "0",
                  "--threads",
                  "1",
                  "--max-model-len",
                  "1100",
                  "--num-kv-blocks",
                  "2000",
                  "--served-model-name",
                  "tiny"));
      cliArgs.addAll(List.of(args));
      List<String> cmd =
          CliProcess.command(
              List.of(
                  "-Xmx256m",
                  // Eight workers start at once on a small machine: C1 only and the scalar kernels
                  // (the Vector API needs C2) keep start-up cheap; every worker computes alike.
                  "-XX:TieredStopAtLevel=1",
                  "-XX:+UseSerialGC",
                  "-Dbaton.kernels=scalar"),
              cliArgs);
      ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true);
      builder.environment().put("BATON_KV_SECRET", SECRET);
      process = builder.start();
      port = CliProcess.watchForPort(process, output);
      synchronized (ALL) {
        ALL.add(this);
      }
    }

    String url() {
      try {
        return "http://127.0.0.1:" + port.get(240, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("baton serve did not start:\n" + output, e);
      }
    }

    void kill() throws InterruptedException {
      process.destroyForcibly(); // SIGKILL: no shutdown hook, no lease cleanup
      process.waitFor(10, TimeUnit.SECONDS);
    }

    double kvUsage() throws Exception {
      String metrics =
          HTTP.send(
                  HttpRequest.newBuilder(URI.create(url() + "/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher m =
          Pattern.compile("(?m)^vllm:kv_cache_usage_perc\\{[^}]*\\} ([0-9.eE+-]+)")
              .matcher(metrics);
      if (!m.find()) {
        throw new AssertionError("no vllm:kv_cache_usage_perc in /metrics:\n" + metrics);
      }
      return Double.parseDouble(m.group(1));
    }

    @Override
    public void close() {
      CliProcess.stop(process);
    }
  }

  static String kv(String role, String policy) {
    return kv(role, policy, "auto");
  }

  /** F32 pairs use the default (shared memory on one host); the F16 pair forces TCP. */
  static String kv(String role, String policy, String transport) {
    return "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\""
        + role
        + "\",\"kv_load_failure_policy\":\""
        + policy
        + "\",\"kv_connector_extra_config\":{\"timeout_ms\":5000,\"transport\":\""
        + transport
        + "\"}}";
  }

  @BeforeAll
  static void start() throws Exception {
    model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 7);
    colocated32 = new Worker();
    prefill32 = new Worker("--role", "prefill", "--kv-transfer-config", kv("kv_producer", "fail"));
    decode32 = new Worker("--role", "decode", "--kv-transfer-config", kv("kv_consumer", "fail"));
    decodeRecompute32 =
        new Worker("--role", "decode", "--kv-transfer-config", kv("kv_consumer", "recompute"));
    doomedPrefill =
        new Worker("--role", "prefill", "--kv-transfer-config", kv("kv_producer", "fail"));
    colocated16 = new Worker("--kv-cache-dtype", "f16");
    prefill16 =
        new Worker(
            "--kv-cache-dtype",
            "f16",
            "--role",
            "prefill",
            "--kv-transfer-config",
            kv("kv_producer", "fail", "tcp"));
    decode16 =
        new Worker(
            "--kv-cache-dtype",
            "f16",
            "--role",
            "decode",
            "--kv-transfer-config",
            kv("kv_consumer", "fail"));
    // Pulls only from a peer that is not here: a request naming any other address is refused.
    fencedDecode =
        new Worker(
            "--role",
            "decode",
            "--kv-transfer-config",
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_consumer\","
                + "\"kv_connector_extra_config\":{\"timeout_ms\":5000,"
                + "\"peers\":[\"192.0.2.10:5600\"]}}");
    for (Worker w : ALL) {
      w.url(); // wait until every worker listens
    }
  }

  @AfterAll
  static void stop() {
    for (Worker w : ALL) {
      w.close();
    }
  }

  static int[] prompt(int length, long seed) {
    Random random = new Random(seed);
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) {
      ids[i] = 1 + random.nextInt(380);
    }
    return ids;
  }

  static HttpResponse<String> post(Worker w, ObjectNode body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(w.url() + "/v1/completions"))
            .header("Content-Type", "application/json")
            .timeout(Duration.ofSeconds(60))
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static ObjectNode request(int[] prompt, int maxTokens, JsonNode kvParams) {
    ObjectNode body = Json.object();
    body.put("model", "tiny");
    ArrayNode ids = body.putArray("prompt");
    for (int id : prompt) {
      ids.add(id);
    }
    body.put("max_tokens", maxTokens);
    body.put("temperature", 0);
    body.put("ignore_eos", true);
    body.put("return_token_ids", true);
    if (kvParams != null) {
      body.set("kv_transfer_params", kvParams);
    }
    return body;
  }

  static JsonNode ok(HttpResponse<String> response) {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return Json.parse(response.body());
  }

  static List<Integer> tokens(JsonNode completion) {
    List<Integer> out = new ArrayList<>();
    completion.path("choices").get(0).path("token_ids").forEach(t -> out.add(t.asInt()));
    return out;
  }

  /** Step 1 of the P/D protocol: the prefill leg; returns the decode leg's kv_transfer_params. */
  static JsonNode prefillLeg(Worker prefill, int[] prompt) throws Exception {
    JsonNode answer =
        ok(post(prefill, request(prompt, 1, KvTransferParams.prefillRequest().toJson())));
    JsonNode params = answer.get("kv_transfer_params");
    assertThat(params).as(answer.toString()).isNotNull();
    assertThat(params.path("do_remote_prefill").asBoolean()).isTrue();
    assertThat(params.path("remote_block_ids").size()).isEqualTo((prompt.length + 15) / 16);
    return params;
  }

  /** The whole P/D request as a gateway runs it. */
  static JsonNode disaggregated(Worker prefill, Worker decode, int[] prompt) throws Exception {
    JsonNode params = prefillLeg(prefill, prompt);
    return ok(post(decode, request(prompt, MAX_TOKENS, params)));
  }

  @ParameterizedTest(name = "{0} KV, prompt of {1} tokens")
  @CsvSource({
    "f32, 1",
    "f32, 15",
    "f32, 16",
    "f32, 17",
    "f32, 100",
    "f32, 1000",
    "f16, 1",
    "f16, 17",
    "f16, 100",
    "f16, 1000"
  })
  @Order(1)
  void disaggregatedGreedyOutputEqualsColocated(String dtype, int length) throws Exception {
    boolean f16 = dtype.equals("f16");
    int[] prompt = prompt(length, 1000 + length);
    JsonNode reference =
        ok(post(f16 ? colocated16 : colocated32, request(prompt, MAX_TOKENS, null)));
    JsonNode pd = disaggregated(f16 ? prefill16 : prefill32, f16 ? decode16 : decode32, prompt);
    assertThat(tokens(reference)).hasSize(MAX_TOKENS);
    assertThat(tokens(pd)).isEqualTo(tokens(reference));
    assertThat(pd.path("choices").get(0).path("text").asText())
        .isEqualTo(reference.path("choices").get(0).path("text").asText());
  }

  @Test
  @Order(2)
  void decodeWithAPartialPrefixCacheHitPullsTheRest() throws Exception {
    int[] prompt = prompt(100, 77);
    // Warm the decode worker's prefix cache with the first 48 tokens (3 full blocks).
    ok(post(decode32, request(java.util.Arrays.copyOf(prompt, 50), 1, null)));
    JsonNode reference = ok(post(colocated32, request(prompt, MAX_TOKENS, null)));
    JsonNode pd = disaggregated(prefill32, decode32, prompt);
    assertThat(tokens(pd)).isEqualTo(tokens(reference));
    assertThat(pd.path("usage").path("prompt_tokens_details").path("cached_tokens").asInt())
        .isEqualTo(48);
  }

  @Test
  @Order(2)
  void aDecodeWorkerNeverDialsAnAddressOutsideItsPeers() throws Exception {
    int[] prompt = prompt(40, 123);
    JsonNode genuine = prefillLeg(prefill32, prompt);
    try (java.net.ServerSocket bait = new java.net.ServerSocket()) {
      bait.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      bait.setSoTimeout(500);
      ObjectNode forged = ((ObjectNode) genuine).deepCopy();
      forged.put("remote_host", "127.0.0.1");
      forged.put("remote_port", bait.getLocalPort());
      HttpResponse<String> refused = post(fencedDecode, request(prompt, MAX_TOKENS, forged));
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
      assertThat(Json.parse(refused.body()).path("error").path("message").asText())
          .contains("is not a configured KV peer");
      org.assertj.core.api.Assertions.assertThatThrownBy(bait::accept)
          .as("the worker must not even connect")
          .isInstanceOf(java.net.SocketTimeoutException.class);
    }
    // The same worker keeps serving, and the genuine lease is still there for a real pull.
    assertThat(tokens(ok(post(fencedDecode, request(prompt, 2, null))))).hasSize(2);
    JsonNode reference = ok(post(colocated32, request(prompt, MAX_TOKENS, null)));
    assertThat(tokens(ok(post(decode32, request(prompt, MAX_TOKENS, genuine)))))
        .isEqualTo(tokens(reference));
  }

  @Test
  @Order(3)
  void prefillKilledBeforeThePull() throws Exception {
    int[] prompt = prompt(100, 99);
    JsonNode params = prefillLeg(doomedPrefill, prompt);
    doomedPrefill.kill();

    HttpResponse<String> failed = post(decode32, request(prompt, MAX_TOKENS, params));
    assertThat(failed.statusCode()).as(failed.body()).isEqualTo(503);
    JsonNode error = Json.parse(failed.body()).path("error");
    assertThat(error.path("code").asText()).isEqualTo("kv_transfer_failed");
    assertThat(error.path("message").asText()).contains("PEER_UNREACHABLE");

    JsonNode reference = ok(post(colocated32, request(prompt, MAX_TOKENS, null)));
    JsonNode recomputed = ok(post(decodeRecompute32, request(prompt, MAX_TOKENS, params)));
    assertThat(tokens(recomputed)).isEqualTo(tokens(reference));
  }

  @Test
  @Order(4)
  void twoHundredConcurrentRequestsThroughOnePrefillAndOneDecode() throws Exception {
    int distinct = 40;
    Map<Integer, List<Integer>> references = new ConcurrentHashMap<>();
    List<int[]> prompts = new ArrayList<>();
    Random random = new Random(5);
    for (int p = 0; p < distinct; p++) {
      prompts.add(prompt(10 + random.nextInt(120), 5000 + p));
    }
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> refs = new ArrayList<>();
      for (int p = 0; p < distinct; p++) {
        int index = p;
        refs.add(
            pool.submit(
                () -> {
                  references.put(
                      index, tokens(ok(post(colocated32, request(prompts.get(index), 4, null)))));
                  return null;
                }));
      }
      for (Future<?> f : refs) {
        f.get();
      }
      List<Future<List<Integer>>> results = new ArrayList<>();
      for (int r = 0; r < 200; r++) {
        int[] prompt = prompts.get(r % distinct);
        results.add(
            pool.submit(
                () -> {
                  JsonNode params = prefillLeg(prefill32, prompt);
                  return tokens(ok(post(decode32, request(prompt, 4, params))));
                }));
      }
      for (int r = 0; r < 200; r++) {
        assertThat(results.get(r).get(120, TimeUnit.SECONDS))
            .as("request %d", r)
            .isEqualTo(references.get(r % distinct));
      }
    }
  }

  @Test
  @Order(5)
  void transferCountersShowTheLoadsAndNoLeaseIsLeft() throws Exception {
    String metrics =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(decode32.url() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher bytes =
        Pattern.compile("(?m)^baton_kv_bytes_loaded_total\\{[^}]*\\} ([0-9.eE+-]+)")
            .matcher(metrics);
    assertThat(bytes.find()).as(metrics).isTrue();
    assertThat(Double.parseDouble(bytes.group(1))).isPositive();
    assertThat(metrics).contains("baton_kv_loads_total{model_name=\"tiny\",result=\"failed\"} 1.0");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(
                        HTTP.send(
                                HttpRequest.newBuilder(URI.create(prefill32.url() + "/metrics"))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString())
                            .body())
                    .contains("baton_kv_leases{model_name=\"tiny\"} 0.0"));
  }

  @Test
  @Order(6)
  void poolsEndFullFreeOnBothSides() {
    for (Worker w :
        List.of(prefill32, decode32, decodeRecompute32, prefill16, decode16, colocated32)) {
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(() -> assertThat(w.kvUsage()).as(w.output.toString()).isZero());
    }
  }
}
