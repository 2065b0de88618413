package dev.baton.cli;

import dev.baton.model.GgmlType;
import dev.baton.model.GgufFile;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import dev.baton.model.RandomModel;
import dev.baton.model.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code baton model}: make random GGUF models and describe GGUF files. */
@Command(
    name = "model",
    mixinStandardHelpOptions = true,
    description = "Create and inspect GGUF models.",
    subcommands = {ModelCommand.Random.class, ModelCommand.Info.class, ModelCommand.Tokenize.class})
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
            Arrays.stream(tok.eosIds()).mapToObj(tok::token).collect(Collectors.joining(" ")));
        out.printf("chat template: %s%n", f.has("tokenizer.chat_template") ? "yes" : "no");
      }
      return 0;
    }
  }

  /** {@code baton model tokenize}: token ids of a text, optionally timing the encoder. */
  @Command(
      name = "tokenize",
      mixinStandardHelpOptions = true,
      description = "Print the token ids of a text (or time the tokenizer with --bench).")
  static final class Tokenize implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(
        names = {"-m", "--model"},
        required = true,
        description = "GGUF file")
    Path model;

    @Option(
        names = {"-p", "--prompt"},
        description = "text to tokenize")
    String prompt;

    @Option(names = "--file", description = "read the text from this file")
    Path file;

    @Option(names = "--special", description = "recognize special tokens in the text")
    boolean special;

    @Option(names = "--no-bos", description = "do not add the BOS token")
    boolean noBos;

    @Option(
        names = "--bench",
        defaultValue = "0",
        description = "encode N times and print the median time instead of the ids")
    int bench;

    @Override
    public Integer call() throws IOException {
      if ((prompt == null) == (file == null)) {
        throw new IllegalArgumentException("give exactly one of -p TEXT or --file FILE");
      }
      String text = prompt != null ? prompt : Files.readString(file, StandardCharsets.UTF_8);
      PrintWriter out = spec.commandLine().getOut();
      try (GgufFile f = GgufFile.open(model)) {
        long t0 = System.nanoTime();
        Tokenizer tok = Tokenizer.fromGguf(f);
        double loadMs = (System.nanoTime() - t0) / 1e6;
        boolean bos = !noBos && tok.addBosByDefault();
        if (bench <= 0) {
          int[] ids = tok.encode(text, bos, special);
          out.println(
              Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",")));
          return 0;
        }
        long c0 = System.nanoTime();
        int n = tok.encode(text, bos, special).length; // first call: cold chunk cache
        double coldMs = (System.nanoTime() - c0) / 1e6;
        double[] ms = new double[bench];
        for (int i = 0; i < bench; i++) {
          long s = System.nanoTime();
          tok.encode(text, bos, special);
          ms[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(ms);
        out.printf(
            Locale.ROOT,
            "chars %d tokens %d: tokenizer load %.1f ms, first encode %.2f ms, median encode %.3f ms"
                + " over %d runs%n",
            text.length(),
            n,
            loadMs,
            coldMs,
            ms[bench / 2],
            bench);
      }
      return 0;
    }
  }
}
