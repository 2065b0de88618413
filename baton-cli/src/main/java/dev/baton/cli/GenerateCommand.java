package dev.baton.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.engine.Backend;
import dev.baton.engine.Generation;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.engine.sample.SamplingParams;
import dev.baton.model.ChatTemplate;
import dev.baton.model.Detokenizer;
import dev.baton.model.GgufFile;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import dev.baton.model.ModelFiles;
import dev.baton.model.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code baton generate}: runs one prompt through a GGUF model on this machine, without a server,
 * and prints the text (or, with {@code --json}, the tokens and the speed of each phase). Its {@code
 * --batch} and {@code --bandwidth} options make it the inference-core benchmark.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Generate text from a prompt with a GGUF model (no server).")
public final class GenerateCommand implements Callable<Integer> {

  @Mixin ComputeOptions compute = new ComputeOptions();

  @Spec CommandSpec spec;

  @Option(
      names = {"-p", "--prompt"},
      description = "prompt text")
  String prompt;

  @Option(names = "--prompt-ids", split = ",", description = "prompt as token ids: 1,2,3")
  int[] promptIds;

  @Option(
      names = {"-n", "--max-tokens"},
      defaultValue = "64",
      description = "tokens to generate (default ${DEFAULT-VALUE})")
  int maxTokens;

  @Option(
      names = "--temperature",
      defaultValue = "0",
      description = "sampling temperature; 0 = greedy (default ${DEFAULT-VALUE})")
  float temperature;

  @Option(names = "--top-p", defaultValue = "1", description = "nucleus sampling (default 1 = off)")
  float topP;

  @Option(names = "--top-k", defaultValue = "0", description = "top-k sampling (default 0 = off)")
  int topK;

  @Option(names = "--min-p", defaultValue = "0", description = "min-p sampling (default 0 = off)")
  float minP;

  @Option(names = "--repeat-penalty", defaultValue = "1", description = "repetition penalty")
  float repeatPenalty;

  @Option(names = "--presence-penalty", defaultValue = "0", description = "presence penalty")
  float presencePenalty;

  @Option(names = "--frequency-penalty", defaultValue = "0", description = "frequency penalty")
  float frequencyPenalty;

  @Option(names = "--seed", description = "random seed (default: a fresh one)")
  Long seed;

  @Option(
      names = {"-c", "--ctx-size"},
      defaultValue = "4096",
      description = "context length to allocate KV for (capped at the model's; default 4096)")
  int contextSize;

  @Option(names = "--chat", description = "wrap the prompt in the model's chat template")
  boolean chat;

  @Option(names = "--ignore-eos", description = "keep generating after end-of-sequence tokens")
  boolean ignoreEos;

  @Option(names = "--json", description = "print one JSON object with tokens and timings")
  boolean json;

  @Option(
      names = "--batch",
      defaultValue = "1",
      description = "decode this many copies of the prompt together (batched-decode benchmark)")
  int batch;

  @Option(
      names = "--bandwidth",
      description = "also measure memory read bandwidth and report the decode roofline")
  boolean bandwidth;

  @Override
  public Integer call() throws IOException {
    validateOptions();
    ModelFiles.require(compute.model);
    long loadStart = System.nanoTime();
    try (GgufFile file = GgufFile.open(compute.model)) {
      LlamaConfig config = LlamaConfig.fromGguf(file);
      LlamaWeights weights = LlamaWeights.of(file, config);
      Tokenizer tokenizer = tokenizer(file);
      int[] ids = promptTokens(file, tokenizer);
      int context = Math.min(Math.max(contextSize, 1), config.contextLength());
      if (ids.length >= context) {
        throw new IllegalArgumentException(
            "prompt of " + ids.length + " tokens is longer than the context of " + context);
      }
      for (int id : ids) {
        if (id < 0 || id >= config.vocabSize()) {
          throw new IllegalArgumentException(
              "token id "
                  + id
                  + " is outside the vocabulary (0.."
                  + (config.vocabSize() - 1)
                  + ")");
        }
      }
      int total = Math.min(context, ids.length + maxTokens);
      RunnerOptions options =
          RunnerOptions.defaults()
              .withThreads(compute.threads)
              .withDevice(compute.device)
              .withContextLength(context)
              .withKvDtype(compute.dtype())
              .withKvBlocks(batch * Generation.blocksFor(total, 16));
      try (ModelRunner runner =
          Backend.byName(compute.backend).createRunner(config, weights, options)) {
        long loadMs = (System.nanoTime() - loadStart) / 1_000_000;
        List<SamplingParams> params = new ArrayList<>();
        for (int s = 0; s < batch; s++) {
          params.add(samplingParams(s));
        }
        Set<Integer> eos = new java.util.HashSet<>();
        if (!ignoreEos && tokenizer != null) {
          for (int e : tokenizer.eosIds()) {
            eos.add(e);
          }
          if (tokenizer.eotId() >= 0) {
            eos.add(tokenizer.eotId());
          }
        } else if (!ignoreEos) {
          eos.addAll(eosFromMetadata(file));
        }
        PrintWriter out = spec.commandLine().getOut();
        Detokenizer detok =
            !json && tokenizer != null ? Detokenizer.continuing(tokenizer, false) : null;
        Generation.Result result =
            Generation.run(
                runner,
                ids,
                maxTokens,
                params,
                eos::contains,
                detok == null
                    ? null
                    : token -> {
                      if (!eos.contains(token)) {
                        out.print(detok.push(token));
                        out.flush();
                      }
                    });
        if (json) {
          out.println(Json.write(report(file, runner, tokenizer, ids, result, loadMs)));
        } else {
          if (detok != null) {
            out.println(detok.flush());
          }
          spec.commandLine()
              .getErr()
              .printf(
                  "prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s; load %d ms%n",
                  ids.length,
                  result.prefillTokensPerSecond(ids.length),
                  result.outputs().get(0).length,
                  result.decodeTokensPerSecond(),
                  loadMs);
        }
      }
    }
    return 0;
  }

  /** The model's tokenizer; without one, token-id prompts still run (text output is null). */
  private Tokenizer tokenizer(GgufFile file) {
    if (prompt == null && !file.has("tokenizer.ggml.model")) {
      return null;
    }
    return Tokenizer.fromGguf(file);
  }

  private void validateOptions() {
    if ((prompt == null) == (promptIds == null)) {
      throw new IllegalArgumentException("give exactly one of -p/--prompt and --prompt-ids");
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("-n must be >= 1, got " + maxTokens);
    }
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
    }
    if (chat && prompt == null) {
      throw new IllegalArgumentException("--chat needs a text prompt (-p)");
    }
    samplingParams(0); // rejects bad temperature, top-p, ... before loading anything
    compute.validate();
  }

  private SamplingParams samplingParams(int sequence) {
    // Every sequence of a batch gets its own seed so copies of one prompt can diverge.
    Long s = seed == null ? null : seed + sequence;
    return new SamplingParams(
        temperature,
        topK,
        topP,
        minP,
        s,
        repeatPenalty,
        presencePenalty,
        frequencyPenalty,
        Set.of());
  }

  private int[] promptTokens(GgufFile file, Tokenizer tokenizer) {
    if (promptIds != null) {
      if (promptIds.length == 0) {
        throw new IllegalArgumentException("--prompt-ids is empty");
      }
      return promptIds;
    }
    String text = prompt;
    if (chat) {
      text =
          ChatTemplate.fromGguf(file)
              .render(List.of(new ChatTemplate.Message("user", prompt)), true);
      // The template writes special tokens (BOS included, where the model wants one) as text.
      int[] ids = tokenizer.encode(text, false, true);
      if (tokenizer.addBosByDefault() && (ids.length == 0 || ids[0] != tokenizer.bosId())) {
        int[] withBos = new int[ids.length + 1];
        withBos[0] = tokenizer.bosId();
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        ids = withBos;
      }
      return ids;
    }
    int[] ids = tokenizer.encode(text);
    if (ids.length == 0) {
      throw new IllegalArgumentException("the prompt is empty");
    }
    return ids;
  }

  private static Set<Integer> eosFromMetadata(GgufFile file) {
    Set<Integer> eos = new java.util.HashSet<>();
    if (file.has("tokenizer.ggml.eos_token_id")) {
      eos.add(file.getInt("tokenizer.ggml.eos_token_id"));
    }
    if (file.has("tokenizer.ggml.eot_token_id")) {
      eos.add(file.getInt("tokenizer.ggml.eot_token_id"));
    }
    return eos;
  }

  private ObjectNode report(
      GgufFile file,
      ModelRunner runner,
      Tokenizer tokenizer,
      int[] ids,
      Generation.Result result,
      long loadMs) {
    int[] first = result.outputs().get(0);
    ObjectNode o = Json.object();
    o.put("prompt_tokens", ids.length);
    o.put("generated_tokens", first.length);
    ArrayNode tokenIds = o.putArray("token_ids");
    Arrays.stream(first).forEach(tokenIds::add);
    o.put("text", tokenizer == null ? null : tokenizer.decode(first));
    o.put("prefill_tokens_per_s", round(result.prefillTokensPerSecond(ids.length)));
    o.put("decode_tokens_per_s", round(result.decodeTokensPerSecond()));
    o.put("load_ms", loadMs);
    o.put("batch", batch);
    int usedThreads = runner.threads();
    o.put("threads", usedThreads);
    o.put("kernels", runner.kernels());
    o.put(
        "prefill_tokens_per_cpu_s",
        round(result.prefillTokensPerCpuSecond(ids.length, usedThreads)));
    o.put("decode_tokens_per_cpu_s", round(result.decodeTokensPerCpuSecond(usedThreads)));
    o.put("load_average", round(loadAverage()));
    o.put("prefill_ms", round(result.prefillNanos() / 1e6));
    o.put("decode_ms", round(result.decodeNanos() / 1e6));
    o.put("kv_cache_mb", round(runner.kvPool().memory().byteSize() / 1e6));
    o.put("peak_heap_mb", round(peakHeapBytes() / 1e6));
    o.put("anon_rss_mb", round(procStatusKb("RssAnon") / 1e3));
    long perToken = runner.weightBytesPerToken();
    if (perToken > 0) {
      o.put("weight_bytes_per_token", perToken);
    }
    if (bandwidth && perToken > 0) {
      List<MemorySegment> segments = new ArrayList<>();
      for (GgufTensor t : file.tensors().values()) {
        segments.add(t.data());
      }
      double[] bw = runner.readBandwidth(segments);
      if (bw != null) {
        double roofline = bw[0] / perToken;
        double cpuRoofline = bw[1] / perToken;
        o.put("read_bandwidth_gb_s", round(bw[0] / 1e9));
        o.put("read_bandwidth_per_cpu_gb_s", round(bw[1] / 1e9));
        o.put("roofline_tokens_per_s", round(roofline));
        if (batch == 1) {
          o.put("roofline_fraction", round(result.decodeTokensPerSecond() / roofline));
          o.put(
              "roofline_fraction_cpu",
              round(result.decodeTokensPerCpuSecond(usedThreads) / cpuRoofline));
        }
      }
    }
    return o;
  }

  private static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private static long peakHeapBytes() {
    long sum = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
        sum += pool.getPeakUsage().getUsed();
      }
    }
    return sum;
  }

  /** A field of /proc/self/status in kB (0 where there is no /proc). */
  private static long procStatusKb(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
