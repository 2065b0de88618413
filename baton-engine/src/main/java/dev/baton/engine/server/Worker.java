package dev.baton.engine.server;

import dev.baton.core.HttpTimeouts;
import dev.baton.engine.Backend;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.KvEventSink;
import dev.baton.engine.sched.Scheduler;
import dev.baton.engine.sched.SchedulerConfig;
import dev.baton.kv.KvConnector;
import dev.baton.kv.KvConnectors;
import dev.baton.kv.KvTransferConfig;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.time.Duration;

/**
 * One serving worker assembled from {@link WorkerOptions}: GGUF weights, a model runner over a
 * paged KV pool, the KV connector, the engine loop and the HTTP server. {@code baton serve} runs
 * one; tests and benchmarks start one in-process the same way.
 */
public final class Worker implements AutoCloseable {

  private final GgufFile file;
  private final ModelRunner runner;
  private final KvConnector connector;
  private final KvEventPublisher kvEvents;
  private final Engine engine;
  private final WorkerServer server;
  private final ModelText text;
  private final String modelName;

  private Worker(WorkerOptions o) {
    GgufFile f = GgufFile.open(o.model());
    ModelRunner r = null;
    KvConnector kv = KvConnector.NONE;
    KvEventPublisher events = null;
    Engine e = null;
    try {
      LlamaConfig config = LlamaConfig.fromGguf(f);
      LlamaWeights weights = LlamaWeights.of(f, config);
      int maxModelLen =
          o.compute().maxModelLen() > 0
              ? Math.min(o.compute().maxModelLen(), config.contextLength())
              : config.contextLength();
      int blocks = numBlocks(o, config, maxModelLen);
      KvTransferConfig kvConfig =
          o.kvTransferConfig() == null ? null : KvTransferConfig.parse(o.kvTransferConfig());
      r =
          Backend.byName(o.compute().backend())
              .createRunner(
                  config,
                  weights,
                  new RunnerOptions(
                      o.compute().threads(),
                      maxModelLen,
                      blocks,
                      o.kvCache().blockSize(),
                      o.kvCache().dtype(),
                      // A P2P producer's pool goes to shared memory: same-host decoders copy from
                      // it.
                      kvConfig == null ? null : kvConfig.sharedPoolDir().orElse(null),
                      o.compute().device()));
      text = GgufModelText.load(f);
      modelName =
          o.listener().servedModelName() != null
              ? o.listener().servedModelName()
              : o.model().getFileName().toString().replaceFirst("\\.gguf$", "");
      if (kvConfig != null) {
        kv = KvConnectors.create(kvConfig);
      }
      KvEventsConfig eventsConfig =
          o.kvEventsConfig() == null ? null : KvEventsConfig.parse(o.kvEventsConfig());
      if (eventsConfig != null && eventsConfig.publishes()) {
        events = new KvEventPublisher(eventsConfig);
      }
      EngineMetrics metrics = new EngineMetrics(modelName);
      e =
          new Engine(
              new Scheduler(
                  new SchedulerConfig(
                      o.kvCache().blockSize(),
                      o.limits().maxNumBatchedTokens(),
                      o.limits().maxNumSeqs(),
                      Math.min(maxModelLen, r.contextLength()),
                      o.limits().maxWaiting(),
                      o.kvCache().prefixCaching(),
                      modelName,
                      o.kvCache().dtype().name()),
                  r,
                  kv,
                  metrics,
                  events == null ? KvEventSink.NONE : events));
      metrics.bind(e);
      metrics.bindKvConnector(kv);
      metrics.bindKvCache(kv);
      metrics.bindRunner(r);
      e.start();
      server =
          new WorkerServer(
                  new ServerConfig(
                      o.listener().host(),
                      o.listener().port(),
                      modelName,
                      o.listener().apiKey(),
                      o.listener().maxBodyBytes(),
                      o.listener().role(),
                      new HttpTimeouts(
                          HttpTimeouts.DEFAULTS.idle(),
                          Duration.ofMillis(o.listener().bodyTimeoutMs()))),
                  e,
                  text,
                  SamplerFactory.standard(),
                  metrics)
              .kvEvents(events)
              .start();
    } catch (RuntimeException | Error ex) {
      if (e != null) {
        e.close();
      }
      kv.close();
      if (events != null) {
        events.close();
      }
      if (r != null) {
        r.close();
      }
      f.close();
      throw ex;
    }
    this.file = f;
    this.runner = r;
    this.connector = kv;
    this.kvEvents = events;
    this.engine = e;
  }

  /** Loads the model and starts serving. */
  public static Worker start(WorkerOptions options) {
    return new Worker(options);
  }

  /**
   * KV blocks for the pool: {@code --num-kv-blocks}, else {@code --kv-cache-memory} bytes (default
   * 1 GiB) divided by the block size, but never more than 64 full-length sequences need.
   */
  static int numBlocks(WorkerOptions o, LlamaConfig c, int maxModelLen) {
    if (o.kvCache().numBlocks() > 0) {
      return o.kvCache().numBlocks();
    }
    long blockBytes =
        KvBlockPool.bytesPerToken(c.layers(), c.kvHeads(), c.headDim(), o.kvCache().dtype())
            * o.kvCache().blockSize();
    long memory =
        o.kvCache().memory() > 0 ? o.kvCache().memory() : WorkerOptions.DEFAULT_KV_CACHE_MEMORY;
    long blocks = memory / blockBytes;
    if (o.kvCache().memory() == 0) {
      blocks =
          Math.min(
              blocks,
              64L * (((long) maxModelLen + o.kvCache().blockSize() - 1) / o.kvCache().blockSize()));
    }
    if (blocks < 1) {
      throw new IllegalArgumentException(
          "--kv-cache-memory " + memory + " holds no block of " + blockBytes + " bytes");
    }
    return (int) Math.min(Integer.MAX_VALUE, blocks);
  }

  public int port() {
    return server.port();
  }

  public String modelName() {
    return modelName;
  }

  public Engine engine() {
    return engine;
  }

  public ModelRunner runner() {
    return runner;
  }

  public ModelText text() {
    return text;
  }

  public KvConnector connector() {
    return connector;
  }

  /** The KV event publisher, or null when {@code --kv-events-config} publishes none. */
  public KvEventPublisher kvEvents() {
    return kvEvents;
  }

  @Override
  public void close() {
    server.close();
    engine.close();
    if (kvEvents != null) {
      kvEvents.close();
    }
    connector.close();
    runner.close();
    file.close();
  }
}
