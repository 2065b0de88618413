package dev.baton.engine.server;

import dev.baton.engine.ModelRunner;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.EngineListener;
import dev.baton.engine.sched.EngineRequest;
import dev.baton.engine.sched.FinishReason;
import dev.baton.kv.KvConnector;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;

/**
 * The worker's Prometheus metrics under vLLM's names ({@code vllm:…}, label {@code model_name}), so
 * dashboards and routers written for vLLM read Baton workers unchanged, plus {@code baton_…}
 * extras. Counters and histograms are fed by the engine loop ({@link EngineListener}); gauges are
 * read from the engine at scrape time.
 */
public final class EngineMetrics implements EngineListener {

  private static final double[] LATENCY_BUCKETS = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0
  };
  private static final double[] ITL_BUCKETS = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5
  };

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final String model;
  private final Counter prefixQueries;
  private final Counter prefixHits;
  private final Counter promptTokens;
  private final Counter generationTokens;
  private final Counter success;
  private final Counter preemptions;
  private final Counter stepTokens;
  private final Counter rejected;
  private final Histogram ttft;
  private final Histogram itl;
  private final Histogram e2e;
  private final Histogram stepSeconds;
  private volatile Supplier<Engine> engine = () -> null;
  private boolean cacheConfigShown;

  public EngineMetrics(String model) {
    this.model = model;
    prefixQueries =
        counter("vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache.");
    prefixHits = counter("vllm:prefix_cache_hits", "Prompt tokens found in the prefix cache.");
    promptTokens = counter("vllm:prompt_tokens", "Prefill tokens processed.");
    generationTokens = counter("vllm:generation_tokens", "Generation tokens processed.");
    success =
        Counter.builder()
            .name("vllm:request_success")
            .help("Finished requests, by finish reason.")
            .labelNames("model_name", "finished_reason")
            .register(registry);
    preemptions = counter("vllm:num_preemptions", "Requests preempted to free KV blocks.");
    stepTokens =
        Counter.builder()
            .name("baton_step_tokens")
            .help("Tokens computed by engine steps, by kind (prefill, decode).")
            .labelNames("model_name", "kind")
            .register(registry);
    rejected = counter("baton_requests_rejected", "Requests refused because the queue was full.");
    ttft = histogram("vllm:time_to_first_token_seconds", "Time to first token.", LATENCY_BUCKETS);
    itl = histogram("vllm:inter_token_latency_seconds", "Time between tokens.", ITL_BUCKETS);
    e2e = histogram("vllm:e2e_request_latency_seconds", "Request latency.", LATENCY_BUCKETS);
    stepSeconds = histogram("baton_engine_step_seconds", "Duration of engine steps.", ITL_BUCKETS);
    gauge("vllm:num_requests_running", "Requests in the running batch.", e -> e.numRunning());
    gauge("vllm:num_requests_waiting", "Requests waiting for admission.", e -> e.numWaiting());
    gauge("vllm:kv_cache_usage_perc", "KV cache usage (1 = full).", Engine::kvUsage);
    gauge("vllm:gpu_cache_usage_perc", "Alias of vllm:kv_cache_usage_perc.", Engine::kvUsage);
  }

  /** Points the gauges at the engine (set once the engine exists). */
  public void bind(Engine e) {
    this.engine = () -> e;
    if (!cacheConfigShown) {
      cacheConfigShown = true;
      cacheConfigInfo(e);
    }
  }

  /**
   * vLLM's {@code vllm:cache_config_info}: an info metric (exposed as a gauge at 1) whose labels
   * carry the KV cache's settings, with vLLM's label names and its {@code engine} label, no {@code
   * model_name}. Routers and capacity tools read a worker's KV capacity from it ({@code
   * num_gpu_blocks} x {@code block_size}; {@code baton sim calibrate} does). Baton's pool is in
   * host memory unless a GPU runs it; the name stays vLLM's.
   */
  private void cacheConfigInfo(Engine e) {
    Info.builder()
        .name("vllm:cache_config_info")
        .help("Information of the LLMEngine CacheConfig")
        .labelNames(
            "block_size", "cache_dtype", "enable_prefix_caching", "engine", "num_gpu_blocks")
        .register(registry)
        .setLabelValues(
            Integer.toString(e.config().blockSize()),
            cacheDtype(e.config().kvDtypeKey()),
            e.config().prefixCaching() ? "True" : "False",
            "0",
            Integer.toString(e.kvBlocks()));
  }

  /** The pool's element type as vLLM names dtypes ({@code F16} -> {@code float16}). */
  private static String cacheDtype(String kvDtypeKey) {
    return kvDtypeKey == null
        ? "auto"
        : switch (kvDtypeKey.toUpperCase(java.util.Locale.ROOT)) {
          case "F16" -> "float16";
          case "F32" -> "float32";
          default -> kvDtypeKey.toLowerCase(java.util.Locale.ROOT);
        };
  }

  /** Adds the KV connector's transfer counters ({@code baton_kv_…}); call once. */
  public void bindKvConnector(KvConnector connector) {
    CounterWithCallback.builder()
        .name("baton_kv_bytes_loaded")
        .help("KV bytes this worker loaded from other workers (P/D decode side).")
        .labelNames("model_name")
        .callback(cb -> cb.call(connector.transferStats().bytesLoaded(), model))
        .register(registry);
    CounterWithCallback.builder()
        .name("baton_kv_loads")
        .help("KV loads from other workers, by result (ok, failed).")
        .labelNames("model_name", "result")
        .callback(
            cb -> {
              KvConnector.TransferStats s = connector.transferStats();
              cb.call(s.loadsOk(), model, "ok");
              cb.call(s.loadsFailed(), model, "failed");
            })
        .register(registry);
    CounterWithCallback.builder()
        .name("baton_kv_load_seconds")
        .help("Seconds spent loading KV from other workers, summed over successful loads.")
        .labelNames("model_name")
        .callback(cb -> cb.call(connector.transferStats().loadSeconds(), model))
        .register(registry);
    GaugeWithCallback.builder()
        .name("baton_kv_leases")
        .help("Finished prefills whose KV blocks wait under a lease for a decode worker's pull.")
        .labelNames("model_name")
        .callback(cb -> cb.call(connector.transferStats().liveLeases(), model))
        .register(registry);
  }

  /**
   * Adds the shared KV cache's counters when the connector keeps one (the offload connector):
   * vLLM's external prefix cache queries / hits in tokens, and per tier ({@code tier} l1 / l2)
   * hits, misses, bytes saved and loaded, evictions, errors and bytes held. Call once.
   */
  public void bindKvCache(KvConnector connector) {
    if (connector.cacheStats().isEmpty()) {
      return;
    }
    java.util.function.Supplier<dev.baton.kv.KvCacheStats> stats =
        () -> connector.cacheStats().orElseThrow();
    CounterWithCallback.builder()
        .name("vllm:external_prefix_cache_queries")
        .help("Prompt tokens looked up in the external (shared) KV cache.")
        .labelNames("model_name")
        .callback(cb -> cb.call(stats.get().queryTokens(), model))
        .register(registry);
    CounterWithCallback.builder()
        .name("vllm:external_prefix_cache_hits")
        .help("Prompt tokens loaded from the external (shared) KV cache.")
        .labelNames("model_name")
        .callback(cb -> cb.call(stats.get().hitTokens(), model))
        .register(registry);
    CounterWithCallback.builder()
        .name("baton_kv_cache_save_dropped_blocks")
        .help("KV blocks not saved to the cache because the save queue was full.")
        .labelNames("model_name")
        .callback(cb -> cb.call(stats.get().droppedBlocks(), model))
        .register(registry);
    tierCounter("baton_kv_cache_hits", "Blocks found in the tier.", stats, t -> t.hits());
    tierCounter(
        "baton_kv_cache_misses", "Blocks looked for and not found.", stats, t -> t.misses());
    tierCounter(
        "baton_kv_cache_saved_blocks", "Blocks written to the tier.", stats, t -> t.blocksSaved());
    tierCounter(
        "baton_kv_cache_saved_bytes", "Bytes written to the tier.", stats, t -> t.bytesSaved());
    tierCounter(
        "baton_kv_cache_loaded_bytes", "Bytes read from the tier.", stats, t -> t.bytesLoaded());
    tierCounter("baton_kv_cache_evictions", "Blocks the tier evicted.", stats, t -> t.evictions());
    tierCounter(
        "baton_kv_cache_errors",
        "Tier operations that failed (L2 down or slower than its timeout; L1 full of readers).",
        stats,
        t -> t.errors());
    GaugeWithCallback.builder()
        .name("baton_kv_cache_usage_bytes")
        .help("Bytes the tier holds now (L1; 0 for L2, which this worker does not own).")
        .labelNames("model_name", "tier")
        .callback(
            cb -> {
              for (dev.baton.kv.KvCacheStats.Tier t : stats.get().tiers()) {
                cb.call(t.usedBytes(), model, t.name());
              }
            })
        .register(registry);
  }

  private void tierCounter(
      String name,
      String help,
      java.util.function.Supplier<dev.baton.kv.KvCacheStats> stats,
      java.util.function.ToLongFunction<dev.baton.kv.KvCacheStats.Tier> read) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames("model_name", "tier")
        .callback(
            cb -> {
              for (dev.baton.kv.KvCacheStats.Tier t : stats.get().tiers()) {
                cb.call(read.applyAsLong(t), model, t.name());
              }
            })
        .register(registry);
  }

  private Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).labelNames("model_name").register(registry);
  }

  private Histogram histogram(String name, String help, double[] buckets) {
    return Histogram.builder()
        .name(name)
        .help(help)
        .classicOnly()
        .classicUpperBounds(buckets)
        .labelNames("model_name")
        .register(registry);
  }

  private void gauge(String name, String help, java.util.function.ToDoubleFunction<Engine> read) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames("model_name")
        .callback(
            cb -> {
              Engine e = engine.get();
              cb.call(e == null ? 0 : read.applyAsDouble(e), model);
            })
        .register(registry);
  }

  /** Counts a request refused by load shedding. */
  public void onRejected() {
    rejected.labelValues(model).inc();
  }

  @Override
  public void onPrefixLookup(int queries, int hits) {
    prefixQueries.labelValues(model).inc(queries);
    prefixHits.labelValues(model).inc(hits);
  }

  @Override
  public void onFirstToken(EngineRequest request, double ttftSeconds) {
    ttft.labelValues(model).observe(ttftSeconds);
    promptTokens.labelValues(model).inc(request.promptLen());
    generationTokens.labelValues(model).inc();
  }

  @Override
  public void onToken(double seconds) {
    itl.labelValues(model).observe(seconds);
    generationTokens.labelValues(model).inc();
  }

  @Override
  public void onFinished(EngineRequest request, FinishReason reason, double e2eSeconds) {
    success.labelValues(model, reason.apiName).inc();
    e2e.labelValues(model).observe(e2eSeconds);
  }

  @Override
  public void onStep(int prefillTokens, int decodeTokens, int numSeqs, double seconds) {
    stepTokens.labelValues(model, "prefill").inc(prefillTokens);
    stepTokens.labelValues(model, "decode").inc(decodeTokens);
    stepSeconds.labelValues(model).observe(seconds);
  }

  @Override
  public void onPreemption() {
    preemptions.labelValues(model).inc();
  }

  /**
   * Adds the device's memory gauges ({@code baton_gpu_memory_used_bytes}, {@code ..._total_bytes})
   * for a runner on a GPU; nothing for one on the host. vLLM has no metric for this (it logs it);
   * its KV share is {@code vllm:kv_cache_usage_perc} / {@code vllm:gpu_cache_usage_perc} above.
   */
  public void bindRunner(ModelRunner runner) {
    ModelRunner.DeviceMemory first = runner.deviceMemory();
    if (first == null) {
      return;
    }
    GaugeWithCallback.builder()
        .name("baton_gpu_memory_used_bytes")
        .help("Device memory in use (all processes), from the driver.")
        .labelNames("model_name", "device")
        .callback(
            cb -> {
              ModelRunner.DeviceMemory m = runner.deviceMemory();
              cb.call(m.usedBytes(), model, m.device());
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name("baton_gpu_memory_total_bytes")
        .help("Device memory in all.")
        .labelNames("model_name", "device")
        .callback(cb -> cb.call(first.totalBytes(), model, first.device()))
        .register(registry);
  }

  /** The Prometheus text exposition of every metric. */
  public byte[] scrape() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      PrometheusTextFormatWriter.create().write(out, registry.scrape(), EscapingScheme.ALLOW_UTF8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  public static String contentType() {
    return PrometheusTextFormatWriter.CONTENT_TYPE;
  }
}
