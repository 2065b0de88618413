package dev.baton.engine.server;

import dev.baton.engine.KvBlockPool;
import java.nio.file.Path;

/**
 * Everything {@code baton serve} is told: model, listener, KV cache and scheduling limits.
 *
 * @param model GGUF file
 * @param servedModelName name clients use (null = the file name without extension)
 * @param threads compute threads (0 = every core)
 * @param maxModelLen longest sequence (0 = the model's context)
 * @param kvCacheMemory bytes for the KV pool (0 = default, or {@code numKvBlocks})
 * @param numKvBlocks exact number of KV blocks (0 = from {@code kvCacheMemory})
 * @param kvTransferConfig the {@code --kv-transfer-config} JSON (null = no connector)
 */
public record WorkerOptions(
    Path model,
    String host,
    int port,
    String role,
    String servedModelName,
    String apiKey,
    int threads,
    int maxModelLen,
    int blockSize,
    long kvCacheMemory,
    int numKvBlocks,
    KvBlockPool.Dtype kvCacheDtype,
    boolean prefixCaching,
    int maxNumBatchedTokens,
    int maxNumSeqs,
    int maxWaiting,
    long maxBodyBytes,
    String kvTransferConfig,
    String backend) {

  /** Default KV pool size when neither bytes nor blocks are given. */
  public static final long DEFAULT_KV_CACHE_MEMORY = 1L << 30;

  public WorkerOptions {
    if (!role.equals("both") && !role.equals("prefill") && !role.equals("decode")) {
      throw new IllegalArgumentException("--role must be both, prefill or decode, got " + role);
    }
    if (blockSize <= 0 || maxNumBatchedTokens <= 0 || maxNumSeqs <= 0 || maxWaiting < 0) {
      throw new IllegalArgumentException(
          "--block-size, --max-num-batched-tokens and --max-num-seqs must be positive");
    }
    if (threads < 0 || maxModelLen < 0 || kvCacheMemory < 0 || numKvBlocks < 0) {
      throw new IllegalArgumentException(
          "--threads, --max-model-len, --kv-cache-memory and --num-kv-blocks must be >= 0");
    }
  }

  /** Defaults for everything but the model (tests and benchmarks adjust what they need). */
  public static WorkerOptions defaults(Path model) {
    return new WorkerOptions(
        model,
        "127.0.0.1",
        8100,
        "both",
        null,
        null,
        0,
        0,
        16,
        0,
        0,
        KvBlockPool.Dtype.F32,
        true,
        512,
        64,
        256,
        8L << 20,
        null,
        "cpu");
  }

  public WorkerOptions withPort(int p) {
    return new WorkerOptions(
        model,
        host,
        p,
        role,
        servedModelName,
        apiKey,
        threads,
        maxModelLen,
        blockSize,
        kvCacheMemory,
        numKvBlocks,
        kvCacheDtype,
        prefixCaching,
        maxNumBatchedTokens,
        maxNumSeqs,
        maxWaiting,
        maxBodyBytes,
        kvTransferConfig,
        backend);
  }

  public WorkerOptions withThreads(int t) {
    return new WorkerOptions(
        model,
        host,
        port,
        role,
        servedModelName,
        apiKey,
        t,
        maxModelLen,
        blockSize,
        kvCacheMemory,
        numKvBlocks,
        kvCacheDtype,
        prefixCaching,
        maxNumBatchedTokens,
        maxNumSeqs,
        maxWaiting,
        maxBodyBytes,
        kvTransferConfig,
        backend);
  }

  public WorkerOptions withNumKvBlocks(int n) {
    return new WorkerOptions(
        model,
        host,
        port,
        role,
        servedModelName,
        apiKey,
        threads,
        maxModelLen,
        blockSize,
        kvCacheMemory,
        n,
        kvCacheDtype,
        prefixCaching,
        maxNumBatchedTokens,
        maxNumSeqs,
        maxWaiting,
        maxBodyBytes,
        kvTransferConfig,
        backend);
  }

  public WorkerOptions withMaxModelLen(int n) {
    return new WorkerOptions(
        model,
        host,
        port,
        role,
        servedModelName,
        apiKey,
        threads,
        n,
        blockSize,
        kvCacheMemory,
        numKvBlocks,
        kvCacheDtype,
        prefixCaching,
        maxNumBatchedTokens,
        maxNumSeqs,
        maxWaiting,
        maxBodyBytes,
        kvTransferConfig,
        backend);
  }
}
