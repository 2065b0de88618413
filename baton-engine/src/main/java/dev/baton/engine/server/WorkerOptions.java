package dev.baton.engine.server;

import dev.baton.core.HttpTimeouts;
import dev.baton.engine.KvBlockPool;
import java.nio.file.Path;

/**
 * Everything {@code baton serve} is told, one record per concern: where it listens, how it
 * computes, its KV cache, its scheduling limits, and the KV connector.
 *
 * @param model GGUF file
 * @param kvTransferConfig the {@code --kv-transfer-config} JSON (null = no connector)
 * @param kvEventsConfig the {@code --kv-events-config} JSON (null = no KV events)
 */
public record WorkerOptions(
    Path model,
    Listener listener,
    Compute compute,
    KvCache kvCache,
    Limits limits,
    String kvTransferConfig,
    String kvEventsConfig) {

  public WorkerOptions(
      Path model,
      Listener listener,
      Compute compute,
      KvCache kvCache,
      Limits limits,
      String kvTransferConfig) {
    this(model, listener, compute, kvCache, limits, kvTransferConfig, null);
  }

  /** Default KV pool size when neither bytes nor blocks are given. */
  public static final long DEFAULT_KV_CACHE_MEMORY = 1L << 30;

  /**
   * The HTTP side.
   *
   * @param role both, prefill or decode
   * @param servedModelName name clients use (null = the file name without extension)
   * @param maxBodyBytes larger request bodies get 413
   * @param bodyTimeoutMs a request body not complete this long after its headers closes the
   *     connection
   */
  public record Listener(
      String host,
      int port,
      String role,
      String servedModelName,
      String apiKey,
      long maxBodyBytes,
      long bodyTimeoutMs) {
    public Listener {
      if (!role.equals("both") && !role.equals("prefill") && !role.equals("decode")) {
        throw new IllegalArgumentException("--role must be both, prefill or decode, got " + role);
      }
      if (bodyTimeoutMs <= 0) {
        throw new IllegalArgumentException("--body-timeout-ms must be positive");
      }
    }

    /** The default body timeout. */
    public Listener(
        String host,
        int port,
        String role,
        String servedModelName,
        String apiKey,
        long maxBodyBytes) {
      this(
          host,
          port,
          role,
          servedModelName,
          apiKey,
          maxBodyBytes,
          HttpTimeouts.DEFAULTS.body().toMillis());
    }
  }

  /**
   * The compute.
   *
   * @param backend cpu, cuda or auto
   * @param threads compute threads (0 = every core)
   * @param maxModelLen longest sequence (0 = the model's context)
   * @param device which GPU a GPU backend uses ({@code --device})
   */
  public record Compute(String backend, int threads, int maxModelLen, int device) {
    public Compute {
      if (threads < 0 || maxModelLen < 0 || device < 0) {
        throw new IllegalArgumentException("--threads, --max-model-len and --device must be >= 0");
      }
    }

    public Compute(String backend, int threads, int maxModelLen) {
      this(backend, threads, maxModelLen, 0);
    }
  }

  /**
   * The paged KV cache.
   *
   * @param memory bytes for the KV pool (0 = default, or {@code numBlocks})
   * @param numBlocks exact number of KV blocks (0 = from {@code memory})
   */
  public record KvCache(
      int blockSize, long memory, int numBlocks, KvBlockPool.Dtype dtype, boolean prefixCaching) {
    public KvCache {
      if (blockSize <= 0) {
        throw new IllegalArgumentException("--block-size must be positive");
      }
      if (memory < 0 || numBlocks < 0) {
        throw new IllegalArgumentException("--kv-cache-memory and --num-kv-blocks must be >= 0");
      }
    }
  }

  /** Scheduling limits: tokens per step, running sequences, queued requests. */
  public record Limits(int maxNumBatchedTokens, int maxNumSeqs, int maxWaiting) {
    public Limits {
      if (maxNumBatchedTokens <= 0 || maxNumSeqs <= 0 || maxWaiting < 0) {
        throw new IllegalArgumentException(
            "--max-num-batched-tokens and --max-num-seqs must be positive, --max-waiting >= 0");
      }
    }
  }

  /** Defaults for everything but the model (tests and benchmarks adjust what they need). */
  public static WorkerOptions defaults(Path model) {
    return new WorkerOptions(
        model,
        new Listener("127.0.0.1", 8100, "both", null, null, 8L << 20),
        new Compute("cpu", 0, 0),
        new KvCache(16, 0, 0, KvBlockPool.Dtype.F32, true),
        new Limits(512, 64, 256),
        null);
  }

  public WorkerOptions with(Listener l) {
    return new WorkerOptions(model, l, compute, kvCache, limits, kvTransferConfig, kvEventsConfig);
  }

  public WorkerOptions with(Compute c) {
    return new WorkerOptions(model, listener, c, kvCache, limits, kvTransferConfig, kvEventsConfig);
  }

  public WorkerOptions with(KvCache k) {
    return new WorkerOptions(model, listener, compute, k, limits, kvTransferConfig, kvEventsConfig);
  }

  /** These options with {@code --kv-events-config} set to {@code json}. */
  public WorkerOptions withKvEvents(String json) {
    return new WorkerOptions(model, listener, compute, kvCache, limits, kvTransferConfig, json);
  }

  public WorkerOptions with(Limits l) {
    return new WorkerOptions(
        model, listener, compute, kvCache, l, kvTransferConfig, kvEventsConfig);
  }
}
