package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.KvTransferParams;
import dev.baton.model.RandomModel;
import dev.baton.testkit.RedisServerProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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

/**
 * The shared KV cache end to end: real {@code baton serve} processes with the OffloadConnector and
 * a real redis-server. Greedy outputs of every cache path (second worker, restarted worker, P/D
 * through the cache) must equal a colocated worker's without any cache.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OffloadIT {

  static final int MAX_TOKENS = 6;
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  @TempDir static Path dir;
  static Path model;
  static RedisServerProcess redis;
  static final List<Worker> ALL = new ArrayList<>();
  static Worker colocated;
  static Worker first;
  static Worker second;
  static Worker prefill;
  static Worker decode;
  static Worker multiPrefill;
  static Worker multiDecode;
  static final String SECRET = "offload-it-cluster-secret-0123";

  /** A {@code baton serve} process. */
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
                  "600",
                  "--num-kv-blocks",
                  "400",
                  "--served-model-name",
                  "tiny"));
      cliArgs.addAll(List.of(args));
      ProcessBuilder builder =
          new ProcessBuilder(
                  CliProcess.command(
                      List.of(
                          "-Xmx256m",
                          "-XX:TieredStopAtLevel=1",
                          "-XX:+UseSerialGC",
                          "-Dbaton.kernels=scalar"),
                      cliArgs))
              .redirectErrorStream(true);
      builder.environment().put("BATON_KV_SECRET", SECRET);
      process = builder.start();
      port = CliProcess.watchForPort(process, output);
      ALL.add(this);
    }

    String url() {
      try {
        return "http://127.0.0.1:" + port.get(240, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("baton serve did not start:\n" + output, e);
      }
    }

    double metric(String name, String labels) throws Exception {
      String metrics =
          HTTP.send(
                  HttpRequest.newBuilder(URI.create(url() + "/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher m =
          Pattern.compile(
                  "(?m)^" + Pattern.quote(name) + "\\{[^}]*" + labels + "[^}]*\\} ([0-9.eE+-]+)")
              .matcher(metrics);
      return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    double hitTokens() throws Exception {
      return metric("vllm:external_prefix_cache_hits_total", "");
    }

    @Override
    public void close() {
      CliProcess.stop(process);
    }
  }

  static String offload(String role) {
    return "{\"kv_connector\":\"OffloadConnector\",\"kv_role\":\""
        + role
        + "\",\"kv_connector_extra_config\":{\"l1_capacity\":\"64M\",\"l1_eviction\":\"s3fifo\","
        + "\"l2_url\":\""
        + redis.url()
        + "\",\"l2_timeout_ms\":300}}";
  }

  /** P2P for the suffix, the shared cache for the prefix. */
  static String multi(String role, String cacheRole) {
    return "{\"kv_connector\":\"MultiConnector\",\"kv_role\":\""
        + role
        + "\",\"kv_load_failure_policy\":\"recompute\",\"kv_connector_extra_config\":{\"connectors\":["
        + "{\"kv_connector\":\"P2pConnector\",\"kv_connector_extra_config\":{\"timeout_ms\":5000}},"
        + offload(cacheRole)
        + "]}}";
  }

  @BeforeAll
  static void start() throws Exception {
    java.util.Optional<Path> binary = RedisServerProcess.findBinary();
    assumeTrue(
        binary.isPresent(),
        "redis-server is not installed and bin/test could not install it: skipping OffloadIT");
    redis = RedisServerProcess.start(binary.get());
    model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 11);
    colocated = new Worker();
    first = new Worker("--kv-transfer-config", offload("kv_both"));
    second = new Worker("--kv-transfer-config", offload("kv_both"));
    prefill = new Worker("--role", "prefill", "--kv-transfer-config", offload("kv_producer"));
    decode = new Worker("--role", "decode", "--kv-transfer-config", offload("kv_consumer"));
    multiPrefill =
        new Worker(
            "--role", "prefill", "--kv-transfer-config", multi("kv_producer", "kv_consumer"));
    multiDecode =
        new Worker("--role", "decode", "--kv-transfer-config", multi("kv_consumer", "kv_consumer"));
    for (Worker w : List.copyOf(ALL)) {
      w.url();
    }
  }

  @AfterAll
  static void stop() {
    for (Worker w : ALL) {
      w.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  static ObjectNode request(int[] prompt, int maxTokens, String salt, JsonNode kvParams) {
    ObjectNode body = PdTransferIT.request(prompt, maxTokens, kvParams);
    if (salt != null) {
      body.put("cache_salt", salt);
    }
    return body;
  }

  static JsonNode post(Worker w, ObjectNode body) throws Exception {
    HttpResponse<String> response =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(w.url() + "/v1/completions"))
                .header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    return PdTransferIT.ok(response);
  }

  static List<Integer> reference(int[] prompt, String salt) throws Exception {
    return PdTransferIT.tokens(post(colocated, request(prompt, MAX_TOKENS, salt, null)));
  }

  /** Blocks a worker has written to L2 so far. */
  static double savedToL2(Worker w) throws Exception {
    return w.metric("baton_kv_cache_saved_blocks_total", "tier=\"l2\"");
  }

  /**
   * Waits until a prompt's {@code blocks} full blocks are in L2 (the saver writes them within a
   * second, in more than one batch: waiting for the first one only raced the rest).
   */
  static void awaitInL2(Worker w, double blocksBefore, int blocks) {
    await().atMost(Duration.ofSeconds(10)).until(() -> savedToL2(w) >= blocksBefore + blocks);
  }

  @Test
  @Order(1)
  void aSecondWorkerReusesTheFirstWorkersPromptThroughRedis() throws Exception {
    int[] prompt = PdTransferIT.prompt(200, 1); // 12 full blocks
    double saved = savedToL2(first);
    assertThat(PdTransferIT.tokens(post(first, request(prompt, MAX_TOKENS, null, null))))
        .isEqualTo(reference(prompt, null));
    awaitInL2(first, saved, 12);

    double hitsBefore = second.hitTokens();
    JsonNode reused = post(second, request(prompt, MAX_TOKENS, null, null));
    assertThat(PdTransferIT.tokens(reused)).isEqualTo(reference(prompt, null));
    assertThat(second.hitTokens() - hitsBefore).isEqualTo(192.0);
    assertThat(second.metric("baton_kv_cache_hits_total", "tier=\"l2\"")).isGreaterThan(0);
  }

  @Test
  @Order(2)
  void anotherSaltGetsNothing() throws Exception {
    int[] prompt = PdTransferIT.prompt(120, 2);
    double saved = savedToL2(first);
    post(first, request(prompt, MAX_TOKENS, "tenant-a", null));
    awaitInL2(first, saved, 7);
    double hitsBefore = second.hitTokens();
    assertThat(PdTransferIT.tokens(post(second, request(prompt, MAX_TOKENS, "tenant-b", null))))
        .isEqualTo(reference(prompt, "tenant-b"));
    assertThat(second.hitTokens()).isEqualTo(hitsBefore);
    // The same tenant does reuse it.
    assertThat(PdTransferIT.tokens(post(second, request(prompt, MAX_TOKENS, "tenant-a", null))))
        .isEqualTo(reference(prompt, "tenant-a"));
    assertThat(second.hitTokens() - hitsBefore).isEqualTo(112.0);
  }

  @Test
  @Order(3)
  void pdThroughTheCacheGivesTheColocatedTokens() throws Exception {
    for (int length : new int[] {1, 16, 17, 100, 300}) {
      int[] prompt = PdTransferIT.prompt(length, 100 + length);
      JsonNode answer =
          post(prefill, request(prompt, 1, null, KvTransferParams.prefillRequest().toJson()));
      JsonNode params = answer.get("kv_transfer_params");
      assertThat(params).as(answer.toString()).isNotNull();
      assertThat(params.path("kv_cache_blocks").asInt()).isEqualTo(length / 16);
      double hitsBefore = decode.hitTokens();
      JsonNode pd = post(decode, request(prompt, MAX_TOKENS, null, params));
      assertThat(PdTransferIT.tokens(pd))
          .as("prompt of %d", length)
          .isEqualTo(reference(prompt, null));
      // Everything but the last prompt token's block came through the cache.
      assertThat(decode.hitTokens() - hitsBefore).isEqualTo((double) ((length - 1) / 16 * 16));
    }
  }

  @Test
  @Order(3)
  void multiConnectorPrefixFromTheCacheSuffixFromThePrefillPeer() throws Exception {
    int[] prompt = PdTransferIT.prompt(260, 7); // 16 full blocks
    int[] head = java.util.Arrays.copyOf(prompt, 100); // 6 full blocks
    // An earlier request put the prompt's first 6 blocks into the shared cache.
    double saved = savedToL2(first);
    post(first, request(head, 1, null, null));
    awaitInL2(first, saved, 6);

    // The prefill loads that head from the cache too and computes the rest; its cache part only
    // loads, so the cache keeps exactly the head.
    JsonNode answer =
        post(multiPrefill, request(prompt, 1, null, KvTransferParams.prefillRequest().toJson()));
    JsonNode params = answer.get("kv_transfer_params");
    assertThat(params.hasNonNull("remote_lease_token")).as(params.toString()).isTrue();
    assertThat(multiPrefill.hitTokens()).isEqualTo(96.0);
    double cacheHits = multiDecode.hitTokens();
    double bytes = multiDecode.metric("baton_kv_bytes_loaded_total", "");
    double cacheBytes = multiDecode.metric("baton_kv_cache_loaded_bytes_total", "tier=\"l1\"");
    JsonNode pd = post(multiDecode, request(prompt, MAX_TOKENS, null, params));
    assertThat(PdTransferIT.tokens(pd)).isEqualTo(reference(prompt, null));
    // 6 blocks (96 tokens) from the cache, the other 163 loadable tokens (11 blocks, the last
    // partial) pulled from the prefill peer.
    assertThat(multiDecode.hitTokens() - cacheHits).isEqualTo(96.0);
    double viaCache =
        multiDecode.metric("baton_kv_cache_loaded_bytes_total", "tier=\"l1\"") - cacheBytes;
    double all = multiDecode.metric("baton_kv_bytes_loaded_total", "") - bytes;
    assertThat(viaCache).isPositive();
    assertThat(all / viaCache).isCloseTo(17.0 / 6.0, org.assertj.core.data.Offset.offset(0.01));
  }

  @Test
  @Order(4)
  void aRestartedWorkerReusesThroughRedis() throws Exception {
    int[] prompt = PdTransferIT.prompt(150, 3);
    double saved = savedToL2(second);
    post(second, request(prompt, MAX_TOKENS, null, null));
    awaitInL2(second, saved, 9);
    second.close();
    Worker restarted = new Worker("--kv-transfer-config", offload("kv_both"));
    second = restarted;
    assertThat(PdTransferIT.tokens(post(restarted, request(prompt, MAX_TOKENS, null, null))))
        .isEqualTo(reference(prompt, null));
    assertThat(restarted.hitTokens()).isEqualTo(144.0);
  }

  @Test
  @Order(5)
  void redisKilledMidRunTheWorkersServeOnAndReconnect() throws Exception {
    redis.stop();
    for (int i = 0; i < 5; i++) {
      int[] prompt = PdTransferIT.prompt(80, 200 + i);
      assertThat(PdTransferIT.tokens(post(second, request(prompt, MAX_TOKENS, null, null))))
          .isEqualTo(reference(prompt, null));
      // A fresh prompt on the other worker: L1 misses, L2 is down: computed, same tokens.
      assertThat(PdTransferIT.tokens(post(first, request(prompt, MAX_TOKENS, null, null))))
          .isEqualTo(reference(prompt, null));
    }
    HttpResponse<String> health =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(first.url() + "/health")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(first.metric("baton_kv_cache_errors_total", "tier=\"l2\"")).isGreaterThan(0);

    redis.restart(); // empty
    int[] prompt = PdTransferIT.prompt(90, 300);
    java.util.concurrent.atomic.AtomicInteger fresh =
        new java.util.concurrent.atomic.AtomicInteger(400);
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              double saved = first.metric("baton_kv_cache_saved_bytes_total", "tier=\"l2\"");
              // A prompt never seen: L1 lacks it, so it is saved (and written to L2 once up).
              post(first, request(PdTransferIT.prompt(40, fresh.incrementAndGet()), 1, null, null));
              assertThat(first.metric("baton_kv_cache_saved_bytes_total", "tier=\"l2\""))
                  .isGreaterThan(saved);
            });
    double saved = savedToL2(first);
    post(first, request(prompt, MAX_TOKENS, null, null));
    awaitInL2(first, saved, 5);
    double hitsBefore = second.hitTokens();
    assertThat(PdTransferIT.tokens(post(second, request(prompt, MAX_TOKENS, null, null))))
        .isEqualTo(reference(prompt, null));
    assertThat(second.hitTokens() - hitsBefore).isEqualTo(80.0);
  }

  @Test
  @Order(6)
  void twelveHundredMixedRequestsWithRedisRestartsInBetween() throws Exception {
    int distinct = 24;
    List<int[]> prompts = new ArrayList<>();
    List<List<Integer>> references = new ArrayList<>();
    java.util.Random random = new java.util.Random(9);
    for (int i = 0; i < distinct; i++) {
      // Shared heads (prefix reuse) with distinct tails.
      int[] head = PdTransferIT.prompt(16 * (1 + i % 4), 900 + i % 3);
      int[] prompt = java.util.Arrays.copyOf(head, head.length + 5 + random.nextInt(40));
      System.arraycopy(
          PdTransferIT.prompt(prompt.length, 1000 + i),
          head.length,
          prompt,
          head.length,
          prompt.length - head.length);
      prompts.add(prompt);
      references.add(
          PdTransferIT.tokens(post(colocated, request(prompt, 2, i % 2 == 0 ? "s" : null, null))));
    }
    try (java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(16)) {
      for (int round = 0; round < 3; round++) {
        List<java.util.concurrent.Future<?>> results = new ArrayList<>();
        for (int r = 0; r < 400; r++) {
          int index = (r * 7 + round) % distinct;
          int kind = r % 3;
          results.add(
              pool.submit(
                  () -> {
                    int[] prompt = prompts.get(index);
                    String salt = index % 2 == 0 ? "s" : null;
                    List<Integer> got;
                    if (kind == 2) {
                      JsonNode params =
                          post(
                                  prefill,
                                  request(
                                      prompt, 1, salt, KvTransferParams.prefillRequest().toJson()))
                              .get("kv_transfer_params");
                      got = PdTransferIT.tokens(post(decode, request(prompt, 2, salt, params)));
                    } else {
                      got =
                          PdTransferIT.tokens(
                              post(kind == 0 ? first : second, request(prompt, 2, salt, null)));
                    }
                    assertThat(got).as("prompt %d", index).isEqualTo(references.get(index));
                    return null;
                  }));
        }
        for (java.util.concurrent.Future<?> f : results) {
          f.get(300, TimeUnit.SECONDS);
        }
        redis.restart(); // empty again; the workers reconnect on their own
      }
    }
  }

  @Test
  @Order(7)
  void poolsEndFullFree() throws Exception {
    for (Worker w : List.of(first, second, prefill, decode, multiPrefill, multiDecode)) {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> w.metric("vllm:kv_cache_usage_perc", "") == 0.0);
    }
  }
}
