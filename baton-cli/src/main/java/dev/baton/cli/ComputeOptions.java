package dev.baton.cli;

import dev.baton.engine.KvBlockPool;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The options every command that runs the engine shares ({@code baton serve}, {@code baton
 * generate}): the model file, the compute backend and threads, and the KV cache's number type.
 */
final class ComputeOptions {

  @Option(
      names = {"-m", "--model"},
      required = true,
      description = "GGUF model file")
  Path model;

  @Option(
      names = "--backend",
      defaultValue = "cpu",
      description = "compute backend: cpu, cuda or auto (default ${DEFAULT-VALUE})")
  String backend;

  @Option(
      names = "--device",
      defaultValue = "0",
      description = "which GPU the cuda backend uses (default ${DEFAULT-VALUE})")
  int device;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "compute threads (default: every core)")
  int threads;

  @Option(
      names = "--kv-cache-dtype",
      defaultValue = "f32",
      description = "f32 or f16 (default ${DEFAULT-VALUE})")
  String kvCacheDtype;

  /** The KV number type; a name other than f32 or f16 (and their aliases) is an error. */
  KvBlockPool.Dtype dtype() {
    return switch (kvCacheDtype.toLowerCase(Locale.ROOT)) {
      case "f32", "float32", "fp32" -> KvBlockPool.Dtype.F32;
      case "f16", "float16", "fp16", "half" -> KvBlockPool.Dtype.F16;
      default ->
          throw new IllegalArgumentException(
              "unknown KV cache dtype '" + kvCacheDtype + "' (choose f32 or f16)");
    };
  }

  /** Rejects what can be checked before anything is loaded. */
  void validate() {
    if (threads < 0) {
      throw new IllegalArgumentException("--threads must be >= 0, got " + threads);
    }
    if (device < 0) {
      throw new IllegalArgumentException("--device must be >= 0, got " + device);
    }
    dtype();
  }
}
