package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.gateway.Gateway;
import dev.baton.gateway.GatewayConfig;
import dev.baton.gateway.ModelTokenizer;
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
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prefix-cache routing that follows the workers' KV events: two real {@code baton serve} workers
 * publish BlockStored/BlockRemoved (vLLM's shape, over ZeroMQ), the gateway subscribes. A prompt
 * cached on a worker by a request the gateway never saw is routed there; once that worker evicted
 * it and the other cached it, the gateway follows (the approximate index, which only knows what the
 * gateway sent, would still say the first worker). Worker 0's endpoint is configured at the gateway
 * ({@code kv_events}); worker 1's is not: the gateway learns it (and the replay endpoint) from the
 * worker's {@code GET /kv_events}, as for workers {@code baton up} registers.
 */
class KvEventRoutingIT {

  static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final Pattern EVENTS = Pattern.compile("KV events on (tcp://\\S+)");

  @TempDir static Path dir;
  static Path model;
  static final List<Process> PROCESSES = new ArrayList<>();
  static String[] url = new String[2];
  static String[] events = new String[2];
  static Gateway gateway;
  static String gw;

  @BeforeAll
  static void start() throws Exception {
    model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 7);
    for (int i = 0; i < 2; i++) {
      StringBuffer out = new StringBuffer();
      ProcessBuilder pb =
          new ProcessBuilder(
                  CliProcess.command(
                      List.of("-XX:TieredStopAtLevel=1", "-Xmx256m"),
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
                          "512",
                          "--num-kv-blocks",
                          "40",
                          "--kv-events-config",
                          "{\"enable_kv_cache_events\":true,\"publisher\":\"zmq\","
                              + "\"endpoint\":\"tcp://127.0.0.1:*\","
                              + "\"replay_endpoint\":\"tcp://127.0.0.1:*\",\"topic\":\"kv-events\"}")))
              .redirectErrorStream(true);
      Process p = pb.start();
      PROCESSES.add(p);
      url[i] = "http://127.0.0.1:" + CliProcess.awaitServing(p, out, Duration.ofSeconds(60));
      Matcher m = EVENTS.matcher(out);
      assertThat(m.find()).as("worker prints its KV event endpoint: %s", out).isTrue();
      events[i] = m.group(1);
    }
    gateway =
        new Gateway(
                GatewayConfig.parseYaml(
                    """
                    health: {timeout_ms: 3000}
                    prefix_index: {block_size: 16}
                    pools:
                      - name: cache
                        policy: prefix-cache
                        workers:
                          - {url: "%s", kv_events: "%s"}
                          - {url: "%s"}
                    """
                        .formatted(url[0], events[0], url[1])),
                null,
                ModelTokenizer.load(model.toString()))
            .start(0);
    gw = "http://127.0.0.1:" + gateway.port();
  }

  @AfterAll
  static void stop() {
    if (gateway != null) {
      gateway.close();
    }
    PROCESSES.forEach(CliProcess::stop);
  }

  @Test
  void routingFollowsTheWorkersCachesThroughEvictions() throws Exception {
    ObjectNode a = completion(prompt(128, 1));
    // 1. Worker 0 caches A through a request the gateway never saw.
    long stored0 = eventCount(0, "stored");
    assertThat(post(url[0] + "/v1/completions", a).statusCode()).isEqualTo(200);
    awaitEvents(0, "stored", stored0 + 8);
    assertThat(servedThroughGateway(a)).isEqualTo(0);

    // 2. Worker 0 evicts A (other prompts fill its 40 blocks); worker 1 caches A.
    long removed0 = eventCount(0, "removed");
    for (int i = 0; i < 8; i++) {
      assertThat(post(url[0] + "/v1/completions", completion(prompt(128, 100 + i))).statusCode())
          .isEqualTo(200);
    }
    awaitEvents(0, "removed", removed0 + 8);
    long stored1 = eventCount(1, "stored");
    assertThat(post(url[1] + "/v1/completions", a).statusCode()).isEqualTo(200);
    awaitEvents(1, "stored", stored1 + 8);
    // The gateway sent A to worker 0 in step 1; the events say worker 1 holds it now.
    long hits1 = metric(1, "vllm:prefix_cache_hits");
    assertThat(servedThroughGateway(a)).isEqualTo(1);
    assertThat(metric(1, "vllm:prefix_cache_hits") - hits1).isGreaterThanOrEqualTo(128 - 16);
  }

  @Test
  void aChatIsMatchedThroughTheModelsChatTemplate() throws Exception {
    ObjectNode chat = Json.object();
    chat.put("model", "tiny");
    chat.put("max_tokens", 1);
    chat.putArray("messages")
        .addObject()
        .put("role", "user")
        .put("content", "the quick brown fox jumps over the lazy dog ".repeat(6));
    long stored1 = eventCount(1, "stored");
    assertThat(post(url[1] + "/v1/chat/completions", chat).statusCode()).isEqualTo(200);
    awaitEvents(1, "stored", stored1 + 1);
    long served0 = requests(0);
    long served1 = requests(1);
    assertThat(post(gw + "/v1/chat/completions", chat).statusCode()).isEqualTo(200);
    assertThat(requests(1) - served1).isEqualTo(1);
    assertThat(requests(0) - served0).isZero();
  }

  /**
   * Waits until the gateway has seen {@code atLeast} events of {@code field} from a worker; a
   * timeout shows what the gateway knows of both workers (feeds, endpoints, counts).
   */
  static void awaitEvents(int worker, String field, long atLeast) {
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () ->
                assertThat(eventCount(worker, field))
                    .as("worker %d's %s events at the gateway: %s", worker, field, admin())
                    .isGreaterThanOrEqualTo(atLeast));
  }

  static String admin() throws Exception {
    return HTTP.send(
            HttpRequest.newBuilder(URI.create(gw + "/admin/workers")).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** Sends {@code body} through the gateway and says which worker answered it. */
  static int servedThroughGateway(ObjectNode body) throws Exception {
    long[] before = {requests(0), requests(1)};
    HttpResponse<String> r = post(gw + "/v1/completions", body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    long d0 = requests(0) - before[0];
    long d1 = requests(1) - before[1];
    assertThat(d0 + d1).isEqualTo(1);
    return d0 == 1 ? 0 : 1;
  }

  static ObjectNode completion(int[] ids) {
    ObjectNode body = Json.object();
    body.put("model", "tiny");
    body.put("max_tokens", 1);
    ArrayNode p = body.putArray("prompt");
    for (int id : ids) {
      p.add(id);
    }
    return body;
  }

  static int[] prompt(int length, long seed) {
    Random random = new Random(seed);
    int[] ids = new int[length];
    for (int i = 0; i < length; i++) {
      ids[i] = 1 + random.nextInt(380);
    }
    return ids;
  }

  static long eventCount(int worker, String field) throws Exception {
    String body = admin();
    for (JsonNode w : Json.parse(body).path("pools").path("cache").path("workers")) {
      if (w.path("url").asText().equals(url[worker])) {
        return w.path("kv_events").path(field).asLong();
      }
    }
    throw new AssertionError("worker " + url[worker] + " not listed: " + body);
  }

  static long requests(int worker) throws IOException, InterruptedException {
    return metric(worker, "vllm:request_success");
  }

  /** Sum of a metric's samples on a worker (every label set). */
  static long metric(int worker, String name) throws IOException, InterruptedException {
    String text =
        HTTP.send(
                HttpRequest.newBuilder(URI.create(url[worker] + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    double sum = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "_total") || line.startsWith(name + "{")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return (long) sum;
  }

  static HttpResponse<String> post(String target, ObjectNode body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(target))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
