package dev.baton.cli;

import dev.baton.engine.server.Worker;
import dev.baton.engine.server.WorkerOptions;
import dev.baton.kv.KvTransferConfig;
import dev.baton.model.ModelFiles;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton serve}: one OpenAI-compatible worker for one GGUF model (flags named as vLLM names
 * them). Runs until interrupted.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Serve a GGUF model over an OpenAI-compatible HTTP API.")
public final class ServeCommand implements Callable<Integer> {

  @Mixin ComputeOptions compute = new ComputeOptions();

  @Spec CommandSpec spec;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description = "bind address (default ${DEFAULT-VALUE})")
  String host;

  @Option(
      names = "--port",
      defaultValue = "8100",
      description = "port (default ${DEFAULT-VALUE}; 0 = any free)")
  int port;

  @Option(
      names = "--role",
      defaultValue = "both",
      description = "both, prefill or decode (default ${DEFAULT-VALUE})")
  String role;

  @Option(
      names = "--served-model-name",
      description = "model name for clients (default: file name)")
  String servedModelName;

  @Option(
      names = "--api-key",
      description =
          "require 'Authorization: Bearer KEY' on every route but /health and /metrics"
              + " (or set BATON_API_KEY)")
  String apiKey;

  @Option(
      names = "--max-model-len",
      defaultValue = "0",
      description = "longest sequence (default: the model's context)")
  int maxModelLen;

  @Option(
      names = "--block-size",
      defaultValue = "16",
      description = "tokens per KV block (default ${DEFAULT-VALUE})")
  int blockSize;

  @Option(
      names = "--kv-cache-memory",
      description =
          "bytes for the KV cache, e.g. 2G, 512M (default 1G, capped at 64 full sequences)")
  String kvCacheMemory;

  @Option(
      names = "--num-kv-blocks",
      defaultValue = "0",
      description = "exact number of KV blocks (overrides --kv-cache-memory)")
  int numKvBlocks;

  @Option(names = "--no-prefix-caching", description = "turn off prefix caching (on by default)")
  boolean noPrefixCaching;

  @Option(
      names = "--max-num-batched-tokens",
      defaultValue = "512",
      description =
          "token budget of one engine step; longer prompts are prefilled in chunks"
              + " (default ${DEFAULT-VALUE})")
  int maxNumBatchedTokens;

  @Option(
      names = "--max-num-seqs",
      defaultValue = "64",
      description = "most requests running at once (default ${DEFAULT-VALUE})")
  int maxNumSeqs;

  @Option(
      names = "--max-waiting",
      defaultValue = "256",
      description = "most requests queued; more get 429 (default ${DEFAULT-VALUE})")
  int maxWaiting;

  @Option(
      names = "--max-body-bytes",
      defaultValue = "8388608",
      description = "largest request body; more gets 413 (default ${DEFAULT-VALUE})")
  long maxBodyBytes;

  @Option(
      names = "--body-timeout-ms",
      defaultValue = "60000",
      description =
          "a request body not complete this long after its headers closes the connection"
              + " (default ${DEFAULT-VALUE})")
  long bodyTimeoutMs;

  @Option(
      names = "--kv-transfer-config",
      description = "KV connector configuration (JSON, as vLLM's)")
  String kvTransferConfig;

  @Option(
      names = "--kv-events-config",
      description =
          "publish KV cache events (JSON, as vLLM's: enable_kv_cache_events, publisher, endpoint,"
              + " replay_endpoint, buffer_steps, hwm, max_queue_size, topic)")
  String kvEventsConfig;

  @Option(
      names = "--kv-secret-file",
      description =
          "file holding the cluster secret of the P2P KV channel (or set BATON_KV_SECRET)")
  Path kvSecretFile;

  @Option(
      names = "--kv-secret",
      description =
          "cluster secret of the P2P KV channel (visible in the process list: prefer"
              + " --kv-secret-file or BATON_KV_SECRET)")
  String kvSecret;

  @Override
  public Integer call() throws Exception {
    ModelFiles.require(compute.model);
    String key = apiKey != null ? apiKey : System.getenv("BATON_API_KEY");
    String kvConfig = kvTransferConfig;
    if (kvConfig != null && (kvSecretFile != null || kvSecret != null)) {
      KvTransferConfig parsed = KvTransferConfig.parse(kvConfig);
      kvConfig =
          (kvSecretFile != null ? parsed.withSecretFile(kvSecretFile) : parsed.withSecret(kvSecret))
              .toJson();
    }
    WorkerOptions options =
        new WorkerOptions(
            compute.model,
            new WorkerOptions.Listener(
                host,
                port,
                role,
                servedModelName,
                key == null || key.isEmpty() ? null : key,
                maxBodyBytes,
                bodyTimeoutMs),
            new WorkerOptions.Compute(
                compute.backend, compute.threads, maxModelLen, compute.device),
            new WorkerOptions.KvCache(
                blockSize,
                kvCacheMemory == null ? 0 : parseBytes(kvCacheMemory),
                numKvBlocks,
                compute.dtype(),
                !noPrefixCaching),
            new WorkerOptions.Limits(maxNumBatchedTokens, maxNumSeqs, maxWaiting),
            kvConfig,
            kvEventsConfig);
    Worker worker = Worker.start(options);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  worker.close();
                  stopped.countDown();
                }));
    if (worker.kvEvents() != null) {
      // Before the serving line: a wildcard port ("tcp://127.0.0.1:*") is known only from here.
      spec.commandLine()
          .getOut()
          .printf("baton serve: KV events on %s%n", worker.kvEvents().endpoint());
    }
    spec.commandLine()
        .getOut()
        .printf(
            "baton serve: %s on http://%s:%d (role %s, %d KV blocks of %d tokens)%n",
            worker.modelName(),
            host,
            worker.port(),
            role,
            worker.runner().kvPool().numBlocks(),
            blockSize);
    spec.commandLine().getOut().flush();
    stopped.await();
    return 0;
  }

  static long parseBytes(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT).replaceFirst("I?B$", "");
    long unit = 1;
    if (!t.isEmpty()) {
      switch (t.charAt(t.length() - 1)) {
        case 'K' -> unit = 1L << 10;
        case 'M' -> unit = 1L << 20;
        case 'G' -> unit = 1L << 30;
        case 'T' -> unit = 1L << 40;
        default -> unit = 1;
      }
    }
    if (unit > 1) {
      t = t.substring(0, t.length() - 1);
    }
    try {
      double v = Double.parseDouble(t);
      if (!(v > 0)) {
        throw new NumberFormatException();
      }
      return (long) (v * unit);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--kv-cache-memory: not a size: " + s);
    }
  }
}
