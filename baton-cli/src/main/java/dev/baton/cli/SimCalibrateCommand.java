package dev.baton.cli;

import static dev.baton.cli.CalibrationFits.addJitter;
import static dev.baton.cli.CalibrationFits.decodeLine;
import static dev.baton.cli.CalibrationFits.hopLine;
import static dev.baton.cli.CalibrationFits.interference;
import static dev.baton.cli.CalibrationFits.median;
import static dev.baton.cli.CalibrationFits.prefillLine;
import static dev.baton.cli.CalibrationFits.rounded;
import static dev.baton.cli.CalibrationFits.runSpread;
import static dev.baton.cli.CalibrationFits.settledFrom;
import static dev.baton.cli.CalibrationFits.stepSecondsSumOf;

import dev.baton.bench.EndpointConfig;
import dev.baton.bench.GgufPromptTokenizer;
import dev.baton.bench.OpenAiClient;
import dev.baton.bench.PreparedRequest;
import dev.baton.bench.RequestResult;
import dev.baton.bench.TextSynthesizer;
import dev.baton.core.Json;
import dev.baton.sim.StepModel;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton sim calibrate}: measures a running pool through its gateway with short real requests
 * shaped like the workload to simulate ({@code --input-len}, {@code --output-len}) and writes the
 * step-model file {@code baton sim --step-model} reads.
 *
 * <ul>
 *   <li>Prefill: the line through the median TTFT of one-token requests of ½, 1 and 1½ times the
 *       input length. With {@code --prefill-url} (a P/D pool) the same prompts also go straight to
 *       the prefill worker, whose engine-step time per prompt (its step histogram around each one)
 *       is the model's prefill; the rest of the TTFT through the gateway is the KV-hop term, and
 *       four prompts sent at once give the time of a prefill queued behind another.
 *   <li>Decode: the time per step while requests decode together, measured in the window where
 *       every one of them is decoding (after the last one's first token), for one request with a
 *       short prompt, one with a prompt of the input length and {@code --batch} per worker with
 *       short prompts (which all start decoding at once); three equations give the step's base,
 *       per-sequence and per-context-token costs.
 *   <li>Interference (workers sharing a machine): the prefill at the input length again while
 *       another worker decodes without pause, and the long-prompt decode again while another worker
 *       prefills without pause (its prompts made beforehand); how much longer each took is the
 *       model's {@code prefillInterference} and {@code decodeInterference}. With {@code --workers}
 *       above 1 (a colocated pool) also each beside the same kind of work, measured straight on the
 *       two workers {@code --worker-urls} names (the gateway could put both on one).
 *   <li>Decode jitter: the single long decoders' inter-token gaps, alone and beside a prefilling
 *       worker, as differences from each sample's mean, in order (the model's decode jitter series;
 *       each stream's first 32 gaps left out).
 * </ul>
 *
 * Every point is the median of {@code --repeats} samples, after {@code --warmup} rounds that let
 * the JIT compile the workers' hot loops (with 6 rounds, a second calibration right after the first
 * measured the prefill 20% faster).
 *
 * <p>Prompts are random text of exactly the asked length when {@code --tokenizer} names the model's
 * GGUF file (as {@code baton bench --tokenizer} builds them), else words counted by the server.
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

  @Option(
      names = "--tokenizer",
      paramLabel = "FILE.gguf",
      description = "the model's GGUF file: prompts of exact token lengths")
  Path tokenizer;

  @Option(
      names = "--input-len",
      defaultValue = "512",
      description = "prompt tokens of the workload to simulate (default ${DEFAULT-VALUE})")
  int inputLen;

  @Option(
      names = "--output-len",
      defaultValue = "64",
      description = "output tokens of the workload to simulate (default ${DEFAULT-VALUE})")
  int outputLen;

  @Option(
      names = "--batch",
      defaultValue = "4",
      description = "requests per worker decoding together (default ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--workers",
      defaultValue = "1",
      description =
          "the pool's decoding workers (the gateway spreads --batch x workers requests over them)")
  int workers;

  @Option(
      names = "--worker-urls",
      split = ",",
      paramLabel = "URL",
      description =
          "two workers of a colocated pool (--workers 2 or more): how much one slows the other is"
              + " measured by sending straight to them, the measured work to the first and the"
              + " neighbour's to the second. Through the gateway both can land on one worker: its"
              + " policy reads load scraped once a second, so a worker that has just finished still"
              + " looks busy, ties with the busy one, and the tie is broken at random")
  List<URI> workerUrls;

  @Option(
      names = "--prefill-url",
      paramLabel = "URL",
      description =
          "the P/D pool's prefill worker: prefills are also measured straight there, so the model's"
              + " prefill is that worker's own time and the rest of the TTFT through the gateway its"
              + " KV hop (which overlaps the worker's next prefill); without it the whole TTFT is"
              + " prefill")
  URI prefillUrl;

  @Option(
      names = "--no-interference",
      description =
          "workers on machines of their own: do not measure how much a computing worker slows"
              + " the others (the model's interference stays 0)")
  boolean noInterference;

  @Option(
      names = "--repeats",
      defaultValue = "7",
      description = "samples per point, their median taken (default ${DEFAULT-VALUE})")
  int repeats;

  @Option(
      names = "--jitter-samples",
      defaultValue = "21",
      description =
          "samples of the single long decoders whose gaps make the decode jitter series, alone"
              + " and beside a prefill (their p99s decide the simulated TPOT tail; default"
              + " ${DEFAULT-VALUE})")
  int jitterSamples;

  @Option(
      names = "--warmup",
      defaultValue = "20",
      description = "requests per worker first, unmeasured (JIT compilation)")
  int warmup;

  @Option(
      names = "--pause-ms",
      defaultValue = "300",
      description =
          "idle time before each prefill sample: a bench's requests arrive open loop and mostly"
              + " find the worker idle; sent right after the one before, a prefill overlaps that"
              + " request's wind-down (default ${DEFAULT-VALUE})")
  long pauseMs;

  @Option(names = "--chunk-tokens", defaultValue = "512", description = "prefill chunk limit")
  int chunkTokens;

  @Option(names = "--max-num-seqs", defaultValue = "16", description = "decode batch limit")
  int maxBatch;

  @Option(
      names = "--kv-capacity-tokens",
      defaultValue = "0",
      description =
          "tokens of KV one worker holds (KV blocks x block size), for the KV usage the KV-aware"
              + " policies read (pd, least-kv-cache); default: read from a worker's"
              + " vllm:cache_config_info (--worker-urls, --prefill-url, else --base-url), 0 if"
              + " none has it (the simulated usage then reads 0)")
  long kvCapacityTokens;

  @Option(
      names = {"-o", "--output"},
      required = true,
      description = "step-model JSON to write")
  Path output;

  /**
   * Prompts made for a prefilling neighbour before a measurement: at ~300 ms a prefill, more than a
   * measurement's 7 samples of 256 decode steps or of one prefill take.
   */
  private static final int NEIGHBOUR_PROMPTS = 48;

  private TextSynthesizer text;
  private final Random random = new Random(System.nanoTime());

  @Override
  public Integer call() throws Exception {
    if (batch < 2 || repeats < 1 || jitterSamples < 1 || workers < 1 || warmup < 0 || pauseMs < 0) {
      throw new IllegalArgumentException(
          "--batch must be >= 2, --repeats, --jitter-samples and --workers >= 1, --warmup and"
              + " --pause-ms >= 0");
    }
    if (inputLen < 32 || outputLen < 8) {
      throw new IllegalArgumentException("--input-len must be >= 32 and --output-len >= 8");
    }
    text = tokenizer == null ? null : new TextSynthesizer(GgufPromptTokenizer.open(tokenizer));
    if (workerUrls != null && workerUrls.size() < 2) {
      throw new IllegalArgumentException("--worker-urls needs two workers of the pool");
    }
    if (workers > 1 && workerUrls == null && !noInterference) {
      System.out.println(
          "note: without --worker-urls the interference of one colocated worker on another is"
              + " measured through the gateway, which may put both requests on one worker");
    }
    try (OpenAiClient client = client(baseUrl);
        OpenAiClient prefillWorker = prefillUrl == null ? null : client(prefillUrl)) {
      for (int i = 0; i < warmup; i++) {
        together(client, workers, inputLen, outputLen);
      }
      settle(client);
      int[] lengths = {inputLen / 2, inputLen, inputLen * 3 / 2};
      OpenAiClient[] prefillClients =
          prefillWorker == null
              ? new OpenAiClient[] {client}
              : new OpenAiClient[] {client, prefillWorker};
      double[][] points = prefill(prefillClients, lengths);
      double[] shortPrefill = points[0];
      double[] atLength = points[1];
      double[] longPrefill = points[2];
      // The slope of the chord from 1/2x to 3/2x, through the point at the workload's own length:
      // prefill cost is convex (attention grows with the square), so the chord itself lies above
      // the cost at 1x, and a negative intercept clamped to 0 adds more (on the small preset the
      // simulator then prefilled 1,024 tokens in 426 ms where the real run took under 345 ms,
      // queueing included). When that line would need a negative intercept, the line through the
      // origin and the 1x point: exact at the length the simulator is asked about either way.
      double[] line = prefillLine(shortPrefill, atLength, longPrefill);
      double base = line[0];
      double perToken = line[1];
      double[] hop = {0, 0};
      double backToBack = 0;
      if (prefillWorker != null) {
        // The prefill worker computes only its own part of the TTFT: the KV hop to the decode
        // worker and the relay of the first token overlap its next prefill.
        // {tokens, ms} of the worker's engine steps per prefill (its step-time histogram's sum
        // before and after each probe): what occupies its compute thread. The rest of the TTFT
        // (HTTP, tokenizing, the KV hop, relaying the first token) overlaps its next prefill: a
        // queued prefill in a real bench followed the one before by ~250 ms where a prefill that
        // found the worker idle took ~300 ms to its first token.
        double[][] compute = new double[3][];
        for (int k = 0; k < 3; k++) {
          compute[k] = new double[] {points[3 + k][0], points[3 + k][2]};
        }
        double[] own = prefillLine(compute[0], compute[1], compute[2]);
        base = own[0];
        perToken = own[1];
        hop = hopLine(points[0], points[1], points[2], compute[0], compute[1], compute[2]);
        System.out.printf(
            Locale.ROOT,
            "prefill worker alone: TTFT %.1f ms, engine steps %.1f ms at %.0f tokens; the rest of the"
                + " TTFT through the gateway (HTTP, tokenizing, KV hop): %.1f ms + %.4f ms/token%n",
            points[4][1],
            compute[1][1],
            points[4][0],
            hop[0],
            hop[1]);
        backToBack = backToBack(prefillWorker, compute[1][1]);
        System.out.printf(
            Locale.ROOT,
            "a prefill queued right behind another: %+.0f%% of one on an idle worker%n",
            backToBack * 100);
      }
      // Single decoders generate a few hundred tokens: a stream's first token can reach the client
      // late, in one burst with the next dozens (threads waiting for a core), which over 64 tokens
      // made a 0.6 ms step look like 0.06 ms.
      int single = Math.max(outputLen, 256);
      double[] alone = step(client, 1, 16, single, null);
      List<Double> aloneJitter = new ArrayList<>();
      List<Double> besidePrefillJitter = new ArrayList<>();
      double[] aloneLong = step(client, 1, inputLen, single, aloneJitter);
      double prefillInterference = 0;
      double decodeInterference = 0;
      double prefillBesidePrefill = 0;
      double decodeBesideDecode = 0;
      double[] prefillNextToDecode = atLength;
      double[] decodeNextToPrefill = aloneLong;
      boolean direct = !noInterference && workers > 1 && workerUrls != null;
      if (!noInterference) {
        try (OpenAiClient first = direct ? client(workerUrls.get(0)) : null;
            OpenAiClient second = direct ? client(workerUrls.get(1)) : null) {
          // The measured work and its neighbour's: on the two named workers, or through the
          // gateway (a P/D pool's roles keep them apart).
          OpenAiClient measured = direct ? first : client;
          OpenAiClient neighbour = direct ? second : client;
          double[] prefillAlone = atLength;
          double[] decodeAlone = aloneLong;
          if (direct) {
            // Straight to a worker skips the gateway's relay: the baselines of the ratios too.
            prefillAlone = prefill(measured, inputLen);
            aloneJitter.clear();
            decodeAlone = step(measured, 1, inputLen, single, aloneJitter);
          }
          prefillNextToDecode = besides(neighbour, false, () -> prefill(measured, inputLen));
          decodeNextToPrefill =
              besides(
                  neighbour, true, () -> step(measured, 1, inputLen, single, besidePrefillJitter));
          prefillInterference = interference(prefillNextToDecode[1], prefillAlone[1]);
          decodeInterference = interference(decodeNextToPrefill[1], decodeAlone[1]);
          // Work beside the same kind of work needs two workers that do it: a colocated pool.
          if (workers > 1) {
            prefillBesidePrefill =
                interference(
                    besides(neighbour, true, () -> prefill(measured, inputLen))[1],
                    prefillAlone[1]);
            decodeBesideDecode =
                interference(
                    besides(neighbour, false, () -> step(measured, 1, inputLen, single, null))[1],
                    decodeAlone[1]);
          }
        }
      }
      // Short prompts for the batch: their prefills take no time, so all decode together from the
      // start; the context term comes from the two single-sequence points. With several workers
      // they all decode at once, so each step is slowed by the others: taken out before the fit.
      double[] many = step(client, batch, 16, outputLen, null);
      double manyAlone = workers > 1 ? many[1] / (1 + decodeBesideDecode) : many[1];
      double[] decode = decodeLine(alone, aloneLong, new double[] {many[0], manyAlone, many[2]});
      StepModel m =
          new StepModel(
              base,
              Math.max(0, perToken),
              decode[0],
              decode[1],
              decode[2],
              hop[0],
              hop[1],
              chunkTokens,
              maxBatch,
              prefillInterference,
              decodeInterference,
              prefillBesidePrefill,
              decodeBesideDecode,
              rounded(aloneJitter),
              rounded(besidePrefillJitter),
              backToBack,
              kvCapacity());
      Files.writeString(output, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(m));
      System.out.printf(
          Locale.ROOT,
          "measured: TTFT %.1f ms at %.0f tokens, %.1f ms at %.0f tokens, %.1f ms at %.0f"
              + " tokens; decode step %.2f ms"
              + " (1 sequence, %.0f tokens of context), %.2f ms (1, %.0f), %.2f ms (%d, %.0f)%n"
              + "beside a busy worker: prefill %.1f ms, decode step %.2f ms%n"
              + "prefill %.2f ms + %.4f ms/token; decode step %.2f ms + %.3f ms/sequence + %.5f"
              + " ms/context token; interference: prefill beside decode +%.0f%%, decode beside"
              + " prefill +%.0f%%, prefill beside prefill +%.0f%%, decode beside decode +%.0f%%"
              + "%ndecode jitter over %d-step runs: TPOT p50/p99 %+.0f%%/%+.0f%% of the mean alone,"
              + " %+.0f%%/%+.0f%% beside a prefill -> %s%n",
          shortPrefill[1],
          shortPrefill[0],
          atLength[1],
          atLength[0],
          longPrefill[1],
          longPrefill[0],
          alone[1],
          alone[2],
          aloneLong[1],
          aloneLong[2],
          many[1],
          batch,
          many[2],
          prefillNextToDecode[1],
          decodeNextToPrefill[1],
          base,
          perToken,
          decode[0],
          decode[1],
          decode[2],
          prefillInterference * 100,
          decodeInterference * 100,
          prefillBesidePrefill * 100,
          decodeBesideDecode * 100,
          outputLen - 1,
          runSpread(aloneJitter, outputLen - 1, 50, aloneLong[1]) * 100,
          runSpread(aloneJitter, outputLen - 1, 99, aloneLong[1]) * 100,
          runSpread(besidePrefillJitter, outputLen - 1, 50, decodeNextToPrefill[1]) * 100,
          runSpread(besidePrefillJitter, outputLen - 1, 99, decodeNextToPrefill[1]) * 100,
          output);
    }
    return 0;
  }

  /**
   * Prefills at the input length in rounds of {@link #SETTLE_SAMPLES} until a round's median is
   * within {@link #SETTLE_TOLERANCE} of the round before (at most {@link #SETTLE_ROUNDS} rounds):
   * after the fixed warm-up a first calibration still measured the prefill 17% slower than a second
   * one right after the bench, where a second calibration agreed with the first within 1% on
   * another fresh cluster.
   */
  private void settle(OpenAiClient client) {
    double previous = Double.NaN;
    for (int round = 1; round <= SETTLE_ROUNDS; round++) {
      double[] ttft = new double[SETTLE_SAMPLES];
      for (int i = 0; i < ttft.length; i++) {
        PreparedRequest request = request(inputLen, 1);
        pause();
        ttft[i] = check(client.send(request, null)).ttftNanos() / 1e6;
      }
      double now = median(ttft);
      if (Math.abs(now / previous - 1) <= SETTLE_TOLERANCE) {
        System.out.printf(
            Locale.ROOT, "warm: prefill %.1f ms then %.1f ms (round %d)%n", previous, now, round);
        return;
      }
      previous = now;
    }
    System.out.printf(
        Locale.ROOT,
        "note: the prefill never held within %.0f%% between rounds (last %.1f ms): the machine's"
            + " speed is moving%n",
        SETTLE_TOLERANCE * 100,
        previous);
  }

  private static final int SETTLE_SAMPLES = 3;
  private static final int SETTLE_ROUNDS = 8;
  private static final double SETTLE_TOLERANCE = 0.05;

  /** A streaming completions client of {@code base} (the gateway, or one worker). */
  private OpenAiClient client(URI base) {
    return new OpenAiClient(
        new EndpointConfig(
            base, "/v1/completions", model, null, true, true, null, Duration.ofMinutes(10)),
        t -> 0);
  }

  /** A measurement whose checked exceptions are the caller's. */
  private interface Measurement {
    double[] take() throws Exception;
  }

  /**
   * {@code measurement} while another worker computes without pause: long one-token prefills one
   * after the other ({@code prefilling}), or one long decode after the other, the measurement
   * starting once the first decodes. The gateway's least-request routing puts the measured requests
   * on the idle worker of a colocated pool; in a P/D pool the roles decide.
   */
  private double[] besides(OpenAiClient client, boolean prefilling, Measurement measurement)
      throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    CountDownLatch decoding = new CountDownLatch(prefilling ? 0 : 1);
    // The neighbour's prompts are made before it starts, as a bench makes its own: made per
    // request, each one's tokenizer rounds would run on the measured worker's cores too.
    ArrayDeque<PreparedRequest> prompts = new ArrayDeque<>();
    for (int i = 0; prefilling && i < NEIGHBOUR_PROMPTS; i++) {
      prompts.add(request(inputLen, 1));
    }
    try (ExecutorService background = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<Void> busy =
          background.submit(
              () ->
                  prefilling
                      ? prefillUntil(client, running, prompts)
                      : decodeUntil(client, running, decoding));
      try {
        while (!decoding.await(100, TimeUnit.MILLISECONDS)) {
          if (busy.isDone()) {
            busy.get(); // the background request failed: say why
          }
        }
        return measurement.take();
      } finally {
        running.set(false);
      }
    }
  }

  /**
   * Short-prompt requests decoding as long as the model allows, one after the other, while {@code
   * running}; {@code decoding} opens at the first token.
   */
  private Void decodeUntil(OpenAiClient client, AtomicBoolean running, CountDownLatch decoding) {
    while (running.get()) {
      check(client.send(request(16, 1024), n -> decoding.countDown()));
    }
    return null;
  }

  /** {prompt tokens, median TTFT ms} of {@code repeats} one-token requests of ~tokens tokens. */
  private double[] prefill(OpenAiClient client, int tokens) throws Exception {
    return prefill(client, new int[] {tokens})[0];
  }

  /**
   * {prompt tokens, median TTFT ms} per length, the lengths taken in turn ({@code repeats} rounds
   * of one request each): a machine whose speed drifts during the calibration moves every point
   * alike instead of bending the line (a 1x point 50% above the one before it, measured after it on
   * a quiet 2-core machine, made the model's prefill line steeper than the cost).
   */
  private double[][] prefill(OpenAiClient client, int... lengths) throws Exception {
    return prefill(new OpenAiClient[] {client}, lengths);
  }

  /**
   * The same through each client in turn, within every round: {prompt tokens, median TTFT ms} for
   * client c and length k at {@code [c * lengths.length + k]}.
   */
  private double[][] prefill(OpenAiClient[] clients, int... lengths) throws Exception {
    int points = clients.length * lengths.length;
    double[][] ttft = new double[points][repeats];
    double[][] measuredTokens = new double[points][repeats];
    double[][] computeMs = new double[points][repeats];
    for (int i = 0; i < repeats; i++) {
      for (int c = 0; c < clients.length; c++) {
        for (int k = 0; k < lengths.length; k++) {
          int at = c * lengths.length + k;
          PreparedRequest request = request(lengths[k], 1);
          pause();
          // The second client is the prefill worker itself: its steps' time is read around it.
          double before = c == 1 ? stepSecondsSum(prefillUrl) : 0;
          RequestResult r = check(clients[c].send(request, null));
          ttft[at][i] = r.ttftNanos() / 1e6;
          measuredTokens[at][i] = r.promptTokens() > 0 ? r.promptTokens() : lengths[k];
          if (c == 1) {
            Thread.sleep(STEP_RECORDED_MS);
            computeMs[at][i] = (stepSecondsSum(prefillUrl) - before) * 1000;
          }
        }
      }
    }
    double[][] out = new double[points][];
    for (int k = 0; k < points; k++) {
      out[k] = new double[] {median(measuredTokens[k]), median(ttft[k]), median(computeMs[k])};
    }
    return out;
  }

  /**
   * How much longer (negative: shorter) a prefill at the input length takes on the prefill worker
   * right after another than one on an idle worker ({@code idleMs} of engine steps): {@link
   * #QUEUED} prompts sent at once, the first finding the worker idle and the others queued behind
   * it, the engine steps' time of the others per prompt.
   */
  private double backToBack(OpenAiClient prefillWorker, double idleMs) throws Exception {
    double[] queuedMs = new double[repeats];
    for (int i = 0; i < repeats; i++) {
      List<PreparedRequest> prompts = new ArrayList<>();
      for (int k = 0; k < QUEUED; k++) {
        prompts.add(request(inputLen, 1));
      }
      pause();
      double before = stepSecondsSum(prefillUrl);
      List<Future<RequestResult>> sent = new ArrayList<>();
      try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
        for (PreparedRequest prompt : prompts) {
          sent.add(threads.submit(() -> prefillWorker.send(prompt, null)));
        }
      }
      for (Future<RequestResult> f : sent) {
        check(f.get());
      }
      Thread.sleep(STEP_RECORDED_MS);
      double allMs = (stepSecondsSum(prefillUrl) - before) * 1000;
      queuedMs[i] = (allMs - idleMs) / (QUEUED - 1);
    }
    return Math.max(-0.9, median(queuedMs) / idleMs - 1);
  }

  /** Prompts sent at once to measure prefills queued behind one another. */
  private static final int QUEUED = 4;

  /**
   * How long after a worker's answer its last step is surely in its step-time histogram (the engine
   * emits the token before it records the step).
   */
  private static final long STEP_RECORDED_MS = 50;

  /** Reads the prefill worker's metrics; made at the first read (only --prefill-url needs it). */
  private java.net.http.HttpClient metricsClient;

  /** The worker's {@code baton_engine_step_seconds_sum}: seconds its engine has spent in steps. */
  private double stepSecondsSum(URI worker) throws Exception {
    return stepSecondsSumOf(metricsOf(worker), worker);
  }

  /** A worker's {@code /metrics} text; empty when it answers anything but 200. */
  private String metricsOf(URI worker) throws Exception {
    if (metricsClient == null) {
      metricsClient =
          java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }
    java.net.http.HttpResponse<String> r =
        metricsClient.send(
            java.net.http.HttpRequest.newBuilder(worker.resolve("/metrics"))
                .timeout(Duration.ofSeconds(10))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    return r.statusCode() == 200 ? r.body() : "";
  }

  /**
   * {@code --kv-capacity-tokens}, or else what a worker's {@code vllm:cache_config_info} says (the
   * first of {@code --worker-urls}, {@code --prefill-url}, or {@code --base-url} when that is a
   * worker); 0 with a note when none says.
   */
  private long kvCapacity() {
    if (kvCapacityTokens > 0) {
      return kvCapacityTokens;
    }
    URI worker =
        workerUrls != null ? workerUrls.getFirst() : prefillUrl != null ? prefillUrl : baseUrl;
    try {
      long capacity = CalibrationFits.kvCapacityOf(metricsOf(worker));
      if (capacity > 0) {
        System.out.printf(
            "KV capacity: %d tokens per worker (vllm:cache_config_info of %s)%n", capacity, worker);
        return capacity;
      }
    } catch (Exception e) {
      // reported below as unknown
    }
    System.out.println(
        "KV capacity unknown ("
            + worker
            + "/metrics has no vllm:cache_config_info): the simulated KV usage reads 0; set"
            + " --kv-capacity-tokens");
    return 0;
  }

  /**
   * {batch, median ms per decode step, context tokens per worker} of {@code n} requests per worker
   * decoding together, each asking for {@code out} tokens (n = 1: one request in all). With {@code
   * jitter} (n = 1 only) each sample's inter-token gaps are added to it in order, as differences
   * from that sample's mean gap.
   */
  private double[] step(OpenAiClient client, int n, int promptLen, int out, List<Double> jitter)
      throws Exception {
    int samples = jitter != null ? jitterSamples : repeats;
    double[] steps = new double[samples];
    double[] context = new double[samples];
    for (int rep = 0; rep < samples; rep++) {
      List<RequestResult> results = together(client, n == 1 ? 1 : n * workers, promptLen, out);
      long windowStart = Long.MIN_VALUE;
      long windowEnd = Long.MAX_VALUE;
      for (RequestResult r : results) {
        windowStart = Math.max(windowStart, r.sendNanos() + r.ttftNanos());
        windowEnd = Math.min(windowEnd, r.endNanos());
      }
      long[] gaps = results.get(0).itlNanos();
      int skipped = results.size() == 1 ? settledFrom(gaps) : 0;
      for (int k = 0; k < skipped; k++) {
        windowStart += gaps[k];
      }
      long middle = windowStart + (windowEnd - windowStart) / 2;
      double[] perRequest = new double[results.size()];
      double contextSum = 0;
      for (int i = 0; i < results.size(); i++) {
        RequestResult r = results.get(i);
        long at = r.sendNanos() + r.ttftNanos();
        int inWindow = 0;
        int beforeMiddle = 1;
        for (long gap : r.itlNanos()) {
          at += gap;
          if (at > windowStart && at <= windowEnd) {
            inWindow++;
          }
          if (at <= middle) {
            beforeMiddle++;
          }
        }
        // Requests on different workers need not overlap (one each on two colocated workers):
        // without a common window, a request's own decode time per token is its step time.
        perRequest[i] =
            inWindow >= 8
                ? (windowEnd - windowStart) / 1e6 / inWindow
                : (r.e2elNanos() - r.ttftNanos()) / 1e6 / Math.max(1, r.itlNanos().length);
        contextSum += (r.promptTokens() > 0 ? r.promptTokens() : promptLen) + beforeMiddle;
      }
      steps[rep] = median(perRequest);
      if (jitter != null && results.size() == 1) {
        addJitter(Arrays.copyOfRange(gaps, skipped, gaps.length), jitter);
      }
      context[rep] = contextSum / (n == 1 ? 1 : workers);
    }
    return new double[] {n, median(steps), median(context)};
  }

  private void pause() {
    try {
      Thread.sleep(pauseMs);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("calibration interrupted", e);
    }
  }

  /**
   * One-token requests of the input length, one after the other, while {@code running}: the
   * prepared {@code prompts} first (a longer measurement makes the rest as it goes).
   */
  private Void prefillUntil(
      OpenAiClient client, AtomicBoolean running, ArrayDeque<PreparedRequest> prompts) {
    while (running.get()) {
      PreparedRequest next = prompts.poll();
      check(client.send(next != null ? next : request(inputLen, 1), null));
    }
    return null;
  }

  /** Sends {@code n} requests at once and waits for them all. */
  private List<RequestResult> together(OpenAiClient client, int n, int promptLen, int tokens)
      throws Exception {
    List<Future<RequestResult>> pending = new ArrayList<>();
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < n; i++) {
        PreparedRequest r = request(promptLen, tokens);
        pending.add(threads.submit(() -> client.send(r, null)));
      }
    }
    List<RequestResult> results = new ArrayList<>();
    for (Future<RequestResult> f : pending) {
      results.add(check(f.get()));
    }
    return results;
  }

  /**
   * A prompt unlike every other one from its first token (no prefix cache shortens it); the
   * background prefill thread calls it too.
   */
  private synchronized PreparedRequest request(int tokens, int maxTokens) {
    if (text != null) {
      TextSynthesizer.Text t = text.randomText(tokens, random);
      return PreparedRequest.text(t.text(), t.tokens(), maxTokens);
    }
    int words = Math.max(1, tokens / 3);
    String prompt = MixedLoadComparison.words(words, random.nextInt(), "calibrate");
    return PreparedRequest.text(prompt, tokens, maxTokens);
  }

  private static RequestResult check(RequestResult r) {
    if (!r.success()) {
      throw new IllegalStateException("calibration request failed: " + r.error());
    }
    return r;
  }
}
