package dev.baton.cli;

import dev.baton.bench.BenchmarkResult;
import dev.baton.control.Demo;
import dev.baton.core.Json;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton demo}: the main job — a 1P1D cluster plus a colocated worker on a random model, a
 * short mixed workload through the gateway, per-request results and a colocated vs disaggregated
 * summary; then everything is stopped unless {@code --keep}.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Run Baton end to end: a 1P1D cluster plus a colocated worker, a short mixed workload",
      "through the gateway, and colocated vs disaggregated side by side."
    })
public final class DemoCommand implements Callable<Integer> {

  @Option(
      names = {"-m", "--model"},
      description = "GGUF model (default: a random model)")
  Path model;

  @Option(
      names = "--preset",
      defaultValue = "small",
      description =
          "random model preset when no --model: tiny, small or 1b (default ${DEFAULT-VALUE}: the"
              + " smallest whose prefill is slow enough to show contention)")
  String preset;

  @Option(
      names = {"-n", "--max-tokens"},
      defaultValue = "24",
      description = "tokens per answer")
  int maxTokens;

  @Option(names = "--name", defaultValue = "demo", description = "cluster name (default demo)")
  String name;

  @Option(names = "--keep", description = "leave the cluster running afterwards")
  boolean keep;

  @Option(
      names = "--json",
      paramLabel = "FILE",
      description =
          "write the mixed-load summary as {\"colocated\": {...}, \"disaggregated\": {...}}"
              + " with vLLM bench key names")
  Path json;

  @Override
  public Integer call() throws Exception {
    if (model != null && !Files.isRegularFile(model)) {
      throw new IllegalArgumentException("model file not found: " + model);
    }
    if (!List.of("tiny", "small", "1b").contains(preset)) {
      throw new IllegalArgumentException("--preset must be tiny, small or 1b");
    }
    if (maxTokens < 1 || maxTokens > 512) {
      throw new IllegalArgumentException("--max-tokens must be between 1 and 512");
    }
    MixedLoadComparison comparison =
        new MixedLoadComparison(MixedLoadComparison.Plan.standard(), System.out);
    Map<String, BenchmarkResult> mixed = new LinkedHashMap<>();
    List<Demo.Result> results =
        new Demo(
                new Demo.Options(
                    model == null ? null : model.toAbsolutePath().toString(),
                    preset,
                    name,
                    maxTokens,
                    keep,
                    System.out,
                    DemoCommand::kvBytesPerToken,
                    gateway -> {
                      mixed.putAll(comparison.run(gateway));
                      comparison.print(mixed);
                    }))
            .run();
    if (json != null) {
      Path parent = json.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(
          json,
          Json.MAPPER
                  .writerWithDefaultPrettyPrinter()
                  .writeValueAsString(MixedLoadComparison.summaryJson(mixed))
              + "\n");
      System.out.println("summary written to " + json);
    }
    boolean allOk =
        results.stream().allMatch(r -> r.error() == null)
            && mixed.values().stream().allMatch(r -> r.failed() == 0);
    return allOk ? 0 : 1;
  }

  /** KV bytes per token with the workers' default F32 KV: 2 x layers x kv_heads x head_dim x 4. */
  static long kvBytesPerToken(String modelPath) {
    try (GgufFile file = GgufFile.open(Path.of(modelPath))) {
      LlamaConfig config = LlamaConfig.fromGguf(file);
      return 2L * config.layers() * config.kvDim() * Float.BYTES;
    } catch (RuntimeException e) {
      return 0;
    }
  }
}
