package dev.baton.cli;

import dev.baton.model.GgmlType;
import dev.baton.model.GgufFile;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import dev.baton.model.RandomModel;
import dev.baton.model.Tokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code baton model}: make random GGUF models and describe GGUF files. */
@Command(
    name = "model",
    mixinStandardHelpOptions = true,
    description = "Create and inspect GGUF models.",
    subcommands = {ModelCommand.Random.class, ModelCommand.Info.class})
public final class ModelCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return 2;
  }

  /** {@code baton model random}: a deterministic random Llama-3-style GGUF. */
  @Command(
      name = "random",
      mixinStandardHelpOptions = true,
      description = "Write a deterministic random Llama-3-style GGUF model.")
  static final class Random implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = "--preset",
        required = true,
        description = "tiny, small or 1b (Llama-3.2-1B shape)")
    String preset;

    @Option(names = "--out", required = true, description = "output GGUF file")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default 42)")
    long seed;

    @Option(
        names = "--type",
        description = "tensor type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (default per preset)")
    String type;

    @Override
    public Integer call() {
      RandomModel.Preset p = RandomModel.Preset.parse(preset);
      GgmlType t = type == null ? p.spec.defaultType() : RandomModel.parseType(type);
      long start = System.nanoTime();
      RandomModel.write(out, p.spec, seed, t);
      long ms = (System.nanoTime() - start) / 1_000_000;
      spec.commandLine()
          .getOut()
          .printf(
              Locale.ROOT,
              "wrote %s (preset %s, %s, seed %d) in %d ms%n",
              out,
              p.cliName(),
              t,
              seed,
              ms);
      return 0;
    }
  }

  /** {@code baton model info}: architecture, config, tensor types and tokenizer of a GGUF. */
  @Command(
      name = "info",
      mixinStandardHelpOptions = true,
      description = "Describe a GGUF model file.")
  static final class Info implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = {"-m", "--model"},
        required = true,
        description = "GGUF file")
    Path model;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (GgufFile f = GgufFile.open(model)) {
        out.printf(
            Locale.ROOT, "file:          %s (%d bytes, GGUF v%d)%n", model, f.size(), f.version());
        out.printf("name:          %s%n", f.getString("general.name", "-"));
        LlamaConfig c = LlamaConfig.fromGguf(f);
        out.printf("architecture:  %s%n", c.architecture());
        out.printf("config:        %s%n", c);
        Map<GgmlType, Integer> counts = new TreeMap<>();
        long params = 0;
        for (GgufTensor t : f.tensors().values()) {
          counts.merge(t.type(), 1, Integer::sum);
          params += t.elementCount();
        }
        out.printf(
            Locale.ROOT,
            "tensors:       %d (%s), %,d parameters%n",
            f.tensors().size(),
            counts,
            params);
        Tokenizer tok = Tokenizer.fromGguf(f);
        out.printf(
            "tokenizer:     %s (pre %s), %d tokens, bos %s, eos %s%n",
            f.getString("tokenizer.ggml.model", "none"),
            f.getString("tokenizer.ggml.pre", "default"),
            tok.vocabSize(),
            tok.bosId() < 0 ? "-" : tok.token(tok.bosId()),
            java.util.Arrays.stream(tok.eosIds())
                .mapToObj(tok::token)
                .collect(java.util.stream.Collectors.joining(" ")));
        out.printf("chat template: %s%n", f.has("tokenizer.chat_template") ? "yes" : "no");
      }
      return 0;
    }
  }
}
