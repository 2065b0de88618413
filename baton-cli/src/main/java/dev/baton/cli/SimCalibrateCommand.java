package dev.baton.cli;

import dev.baton.bench.EndpointConfig;
import dev.baton.bench.OpenAiClient;
import dev.baton.bench.PreparedRequest;
import dev.baton.bench.RequestResult;
import dev.baton.core.Json;
import dev.baton.sim.StepModel;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton sim calibrate}: measures a running pool through its gateway with short real requests
 * and writes the step-model file {@code baton sim --step-model} reads. Prefill cost is the line
 * through the median TTFT of short and long prompts (its intercept holds the HTTP round trip and,
 * for a P/D pool, the KV hop); decode cost is the line through the median TPOT of one and of {@code
 * --batch} concurrent decoding requests.
 */
@Command(
    name = "calibrate",
    mixinStandardHelpOptions = true,
    description = "Measure a running pool and write a step-model file for baton sim.")
public final class SimCalibrateCommand implements Callable<Integer> {

  @Option(names = "--base-url", required = true, description = "the gateway (or a worker)")
  URI baseUrl;

  @Option(names = "--model", description = "model field (colocated: the colocated pool)")
  String model;

  @Option(names = "--batch", defaultValue = "4", description = "concurrent decoders measured")
  int batch;

  @Option(names = "--repeats", defaultValue = "3", description = "samples per point")
  int repeats;

  @Option(names = "--chunk-tokens", defaultValue = "512", description = "prefill chunk limit")
  int chunkTokens;

  @Option(names = "--max-num-seqs", defaultValue = "16", description = "decode batch limit")
  int maxBatch;

  @Option(
      names = {"-o", "--output"},
      required = true,
      description = "step-model JSON to write")
  Path output;

  @Override
  public Integer call() throws Exception {
    if (batch < 2 || repeats < 1) {
      throw new IllegalArgumentException("--batch must be >= 2 and --repeats >= 1");
    }
    EndpointConfig endpoint =
        new EndpointConfig(
            baseUrl, "/v1/completions", model, null, true, true, null, Duration.ofMinutes(2));
    try (OpenAiClient client = new OpenAiClient(endpoint, text -> 0)) {
      for (int i = 0; i < 2; i++) {
        check(client.send(PreparedRequest.text(prompt(64, -1 - i), 64, 8), null));
      }
      // Prompt lengths of the workloads the model is for (~100 and ~600 tokens): attention makes
      // much longer prompts cost more per token than a line through these predicts.
      double[] shortPrefill = prefill(client, 30);
      double[] longPrefill = prefill(client, 200);
      double perToken = (longPrefill[1] - shortPrefill[1]) / (longPrefill[0] - shortPrefill[0]);
      double base = Math.max(0, shortPrefill[1] - perToken * shortPrefill[0]);
      double one = tpot(client, 1);
      double many = tpot(client, batch);
      double perSeq = Math.max(0, (many - one) / (batch - 1));
      double decodeBase = Math.max(0, one - perSeq);
      StepModel m =
          new StepModel(
              base, Math.max(0, perToken), decodeBase, perSeq, 0, 0, chunkTokens, maxBatch);
      Files.writeString(output, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(m));
      System.out.printf(
          Locale.ROOT,
          "measured: TTFT %.1f ms at %.0f tokens, %.1f ms at %.0f tokens; TPOT %.2f ms alone,"
              + " %.2f ms with %d%nprefill %.2f ms + %.4f ms/token, decode step %.2f ms + %.3f"
              + " ms/sequence -> %s%n",
          shortPrefill[1],
          shortPrefill[0],
          longPrefill[1],
          longPrefill[0],
          one,
          many,
          batch,
          base,
          perToken,
          decodeBase,
          perSeq,
          output);
    }
    return 0;
  }

  /** {prompt tokens, median TTFT ms} of {@code repeats} one-token requests of ~words words. */
  private double[] prefill(OpenAiClient client, int words) {
    double[] ttft = new double[repeats];
    int tokens = 0;
    for (int i = 0; i < repeats; i++) {
      RequestResult r = check(client.send(PreparedRequest.text(prompt(words, i), words, 1), null));
      ttft[i] = r.ttftNanos() / 1e6;
      tokens = r.promptTokens();
    }
    return new double[] {tokens, median(ttft)};
  }

  /** Median TPOT of {@code n} requests decoding 64 tokens together. */
  private double tpot(OpenAiClient client, int n) throws Exception {
    double[] samples = new double[repeats * n];
    for (int rep = 0; rep < repeats; rep++) {
      List<Future<RequestResult>> pending = new ArrayList<>();
      try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < n; i++) {
          PreparedRequest r = PreparedRequest.text(prompt(16, 1000 + rep * n + i), 16, 64);
          pending.add(threads.submit(() -> client.send(r, null)));
        }
      }
      for (int i = 0; i < n; i++) {
        RequestResult r = check(pending.get(i).get());
        samples[rep * n + i] =
            (r.e2elNanos() - r.ttftNanos()) / 1e6 / Math.max(1, r.outputTokens() - 1);
      }
    }
    return median(samples);
  }

  private static RequestResult check(RequestResult r) {
    if (!r.success()) {
      throw new IllegalStateException("calibration request failed: " + r.error());
    }
    return r;
  }

  /** Differs from every other prompt from its first word, so no prefix cache shortens a prefill. */
  private final long run = System.nanoTime();

  private String prompt(int words, int seed) {
    return MixedLoadComparison.words(words, seed * 7919 + words, "calibrate-" + run);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
