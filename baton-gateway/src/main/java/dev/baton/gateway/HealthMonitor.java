package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.gateway.protocol.NixlPairing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * The gateway's background view of its workers: active health checks ({@code /health}), the models
 * each healthy worker serves ({@code /v1/models}), and the load each reports ({@code /metrics}),
 * every round for all workers in parallel.
 */
final class HealthMonitor implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(HealthMonitor.class.getName());

  private final Supplier<GatewayConfig> config;
  private final Supplier<List<Worker>> workers;
  private final UpstreamClient client;
  private final ExecutorService executor;
  private final FlowContext events;
  private final Map<Worker, List<String>> workerModels = new ConcurrentHashMap<>();
  private final java.util.Set<Worker> askedServerInfo = ConcurrentHashMap.newKeySet();
  private final java.util.Set<Worker> askedVersion = ConcurrentHashMap.newKeySet();
  private final java.util.Set<Worker> askedKvEvents = ConcurrentHashMap.newKeySet();
  private final KvEventFeeds kvEventFeeds;
  private volatile boolean running;
  private Thread healthLoop;
  private Thread scrapeLoop;

  HealthMonitor(
      Supplier<GatewayConfig> config,
      Supplier<List<Worker>> workers,
      UpstreamClient client,
      ExecutorService executor,
      FlowContext events,
      KvEventFeeds kvEventFeeds) {
    this.kvEventFeeds = kvEventFeeds;
    this.config = config;
    this.workers = workers;
    this.client = client;
    this.executor = executor;
    this.events = events;
  }

  void start() {
    running = true;
    healthLoop = Thread.ofVirtual().name("gateway-health").start(this::healthLoop);
    scrapeLoop = Thread.ofVirtual().name("gateway-scrape").start(this::scrapeLoop);
  }

  @Override
  public void close() {
    running = false;
    if (healthLoop != null) {
      healthLoop.interrupt();
      scrapeLoop.interrupt();
    }
  }

  /** The model ids a worker said it serves (empty until its first healthy check). */
  List<String> modelsOf(Worker w) {
    return workerModels.getOrDefault(w, List.of());
  }

  private void healthLoop() {
    while (running) {
      checkHealthOnce();
      if (!pause(config.get().health().intervalMs())) {
        return;
      }
    }
  }

  /** One round of active health checks, all workers in parallel. */
  void checkHealthOnce() {
    forAll(workers.get(), this::checkHealth);
  }

  /** One health check (and model discovery) of one worker, on the caller's thread. */
  void checkNow(Worker w) {
    checkHealth(w);
  }

  private void checkHealth(Worker w) {
    GatewayConfig cfg = config.get();
    boolean ok;
    try (UpstreamClient.Response r =
        client.send(w.uri("/health"), null, cfg.health().timeoutMs())) {
      r.body().readAllBytes();
      ok = r.status() == 200;
    } catch (IOException | RuntimeException e) {
      ok = false;
    }
    boolean was = w.healthy();
    w.checked(ok, cfg.health().failureThreshold());
    if (ok) {
      if (w.breaker().state() == CircuitBreaker.State.HALF_OPEN) {
        w.breaker().onSuccess();
      }
      if (!was) {
        LOG.info(() -> "worker " + w.url() + " is healthy again");
      }
      if (!workerModels.containsKey(w)) {
        fetchModels(w);
      }
      if (w.learnsBootstrapPort() && askedServerInfo.add(w)) {
        fetchBootstrapPort(w);
      }
      if (askedVersion.add(w)) {
        fetchVersion(w);
      }
      if (w.spec().kvEvents() == null && askedKvEvents.add(w)) {
        fetchKvEvents(w);
      } else if (w.kvEvents() != null) {
        kvEventFeeds.revive(w); // a feed whose thread died is made anew
      }
    } else {
      // A down worker's last scraped load means nothing (and a restarted one starts empty).
      w.scraped(0, 0, 0);
      askedServerInfo.remove(w); // a restarted worker may come back with other settings
      askedVersion.remove(w);
      askedKvEvents.remove(w); // a restarted worker may publish on other ports
      events.workerFailed(w);
    }
  }

  private void fetchModels(Worker w) {
    try (UpstreamClient.Response r =
        client.send(w.uri("/v1/models"), null, config.get().health().timeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (r.status() != 200) {
        return;
      }
      List<String> ids = new ArrayList<>();
      for (JsonNode m : Json.MAPPER.readTree(answer).path("data")) {
        ids.add(m.path("id").asText());
      }
      workerModels.put(w, List.copyOf(ids));
    } catch (IOException | RuntimeException e) {
      // models are fetched again at the next healthy check
    }
  }

  /**
   * An SGLang prefill worker tells its bootstrap port in {@code /get_server_info} (its server
   * arguments, {@code disaggregation_bootstrap_port}), as SGLang's router learns it. Other engines
   * answer 404: nothing learned, the default stays.
   */
  private void fetchBootstrapPort(Worker w) {
    try (UpstreamClient.Response r =
        client.send(w.uri("/get_server_info"), null, config.get().health().timeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (r.status() != 200) {
        return;
      }
      JsonNode port = Json.MAPPER.readTree(answer).path("disaggregation_bootstrap_port");
      if (port.isIntegralNumber() && port.asInt() > 0 && port.asInt() < 65536) {
        w.reportedBootstrapPort(port.asInt());
      }
    } catch (IOException | RuntimeException e) {
      // learned at the next healthy transition
    }
  }

  /**
   * vLLM tells its version on {@code GET /version} ({@code {"version": "0.11.2"}}), which decides
   * how it pairs P/D legs ({@link NixlPairing}). Other engines answer 404: the pairing stays
   * unknown and the prefill answer decides.
   */
  private void fetchVersion(Worker w) {
    try (UpstreamClient.Response r =
        client.send(w.uri("/version"), null, config.get().health().timeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (r.status() == 200) {
        JsonNode v = Json.MAPPER.readTree(answer).path("version");
        w.nixlPairing(v.isTextual() ? NixlPairing.ofVersion(v.asText()) : NixlPairing.UNKNOWN);
      }
    } catch (IOException | RuntimeException e) {
      askedVersion.remove(w); // asked again at the next healthy check
    }
  }

  /**
   * A Baton worker tells where it publishes KV events on {@code GET /kv_events} ({@code endpoint},
   * {@code replay_endpoint}; ports it picked at start), so a worker added without {@code kv_events}
   * (by {@code baton up}, the admin API) is followed all the same. A wildcard or loopback host in
   * them means the worker's own host, as the gateway reaches it. Other engines answer 404: nothing
   * learned.
   */
  private void fetchKvEvents(Worker w) {
    try (UpstreamClient.Response r =
        client.send(w.uri("/kv_events"), null, config.get().health().timeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (r.status() != 200) {
        if (r.status() != 404) {
          askedKvEvents.remove(w); // not "none here": asked again at the next healthy check
        }
        return;
      }
      JsonNode told = Json.MAPPER.readTree(answer);
      String events = reachable(told.path("endpoint").asText(null), w);
      if (events == null) {
        return;
      }
      String replay = reachable(told.path("replay_endpoint").asText(null), w);
      if (w.kvEvents() == null) {
        dev.baton.gateway.policy.PrefixIndexConfig p = config.get().prefixIndex();
        w.kvEvents(new dev.baton.gateway.policy.KvEventIndex(p.blockSize(), p.capacityBlocks()));
      }
      w.discoveredKvEvents(new Worker.KvEventEndpoints(events, replay));
      kvEventFeeds.follow(w);
    } catch (IOException | RuntimeException e) {
      askedKvEvents.remove(w); // asked again at the next healthy check
    }
  }

  /** {@code tcp://host:port} with a host the gateway can dial, or null when not of that shape. */
  static String reachable(String endpoint, Worker w) {
    if (endpoint == null) {
      return null;
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("tcp://(.+):(\\d+)").matcher(endpoint);
    if (!m.matches()) {
      return null;
    }
    String host = m.group(1);
    String workerHost = w.host();
    boolean wildcard = host.equals("*") || host.equals("0.0.0.0") || host.matches("\\[?::\\]?");
    boolean loopback = host.startsWith("127.") || host.equals("localhost") || host.equals("[::1]");
    if (wildcard
        || (loopback && !workerHost.startsWith("127.") && !workerHost.equals("localhost"))) {
      host = workerHost;
    }
    return "tcp://" + host + ":" + m.group(2);
  }

  private void scrapeLoop() {
    while (running) {
      scrapeOnce();
      if (!pause(config.get().scrapeIntervalMs())) {
        return;
      }
    }
  }

  /** One round of worker /metrics scraping (running, waiting, KV usage) of healthy workers. */
  void scrapeOnce() {
    forAll(workers.get().stream().filter(Worker::healthy).toList(), this::scrape);
  }

  private void scrape(Worker w) {
    try (UpstreamClient.Response r =
        client.send(w.uri("/metrics"), null, config.get().health().timeoutMs())) {
      String text = new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
      if (r.status() == 200) {
        WorkerMetrics m = WorkerMetrics.parse(text);
        w.scraped(m.running(), m.waiting(), m.kvCacheUsage());
      } else if (r.status() == 404) {
        scrapeLoad(w); // SGLang serves /metrics only with --enable-metrics
      }
    } catch (IOException | RuntimeException e) {
      // keep the previous numbers
    }
  }

  /**
   * SGLang's {@code GET /get_load}: one entry per data-parallel rank, {@code num_reqs} counting
   * running and waiting requests, {@code num_waiting_reqs} the waiting ones (KV usage unknown).
   */
  private void scrapeLoad(Worker w) throws IOException {
    try (UpstreamClient.Response r =
        client.send(w.uri("/get_load"), null, config.get().health().timeoutMs())) {
      byte[] answer = r.body().readAllBytes();
      if (r.status() != 200) {
        return;
      }
      JsonNode ranks = Json.MAPPER.readTree(answer);
      double all = 0;
      double waiting = 0;
      for (JsonNode rank : ranks.isArray() ? ranks : Json.MAPPER.createArrayNode().add(ranks)) {
        all += rank.path("num_reqs").asDouble(0);
        waiting += rank.path("num_waiting_reqs").asDouble(0);
      }
      w.scraped(Math.max(0, all - waiting), waiting, 0);
    }
  }

  private void forAll(List<Worker> all, java.util.function.Consumer<Worker> task) {
    List<Future<?>> done = new ArrayList<>();
    for (Worker w : all) {
      done.add(executor.submit(() -> task.accept(w)));
    }
    for (var f : done) {
      try {
        f.get();
      } catch (Exception e) {
        // a failed check or scrape is recorded on its worker
      }
    }
  }

  private boolean pause(long ms) {
    try {
      Thread.sleep(ms);
      return running;
    } catch (InterruptedException e) {
      return false;
    }
  }
}
