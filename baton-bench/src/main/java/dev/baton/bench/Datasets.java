package dev.baton.bench;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Builds the workload {@link DatasetConfig} names. */
public final class Datasets {

  /** vLLM's ShareGPT filters: prompts and replies of at least 4 tokens, ... */
  static final int SHAREGPT_MIN_LEN = 4;

  /** ... prompts of at most 1024 tokens and at most 2048 tokens in all. */
  static final int SHAREGPT_MAX_PROMPT = 1024;

  static final int SHAREGPT_MAX_TOTAL = 2048;

  private Datasets() {}

  /** The workload for {@code config}, with prompt lengths measured by {@code text}'s tokenizer. */
  public static Workload build(DatasetConfig config, TextSynthesizer text) {
    return switch (config.name()) {
      case "random" -> Workload.of(random(config, text));
      case "prefix" -> Workload.of(prefixRepetition(config, text));
      case "multiturn" -> new MultiTurnWorkload(config, text);
      case "sharegpt" -> Workload.of(shareGpt(config, text.tokenizer()));
      default -> throw new IllegalArgumentException("unknown dataset " + config.name());
    };
  }

  /** {low, high} of lengths drawn from len × [1 − ratio, 1 + ratio], as vLLM draws them. */
  static int[] range(int len, double ratio) {
    int low = Math.max(1, (int) (len * (1 - ratio)));
    int high = Math.max(low, (int) (len * (1 + ratio)));
    return new int[] {low, high};
  }

  /**
   * vLLM's random dataset: input and output lengths uniform in their ranges, an optional prefix
   * shared by all prompts, text built to each length (or random token ids with {@code tokenIds}).
   */
  public static List<PreparedRequest> random(DatasetConfig config, TextSynthesizer text) {
    Random random = new Random(config.seed());
    int[] in = range(config.random().inputLen(), config.random().rangeRatio());
    int[] out = range(config.random().outputLen(), config.random().rangeRatio());
    List<PreparedRequest> requests = new ArrayList<>(config.numPrompts());
    if (config.tokenIds()) {
      PromptTokenizer tokenizer = text.tokenizer();
      if (tokenizer.vocabSize() <= 0) {
        throw new IllegalArgumentException(
            "token-id prompts need a tokenizer that knows its vocabulary (--tokenizer FILE.gguf)");
      }
      int[] prefix = new int[config.random().prefixLen()];
      for (int k = 0; k < prefix.length; k++) {
        prefix[k] = tokenizer.randomTokenId(random);
      }
      for (int i = 0; i < config.numPrompts(); i++) {
        int len = in[0] + random.nextInt(in[1] - in[0] + 1);
        int[] ids = new int[prefix.length + len];
        System.arraycopy(prefix, 0, ids, 0, prefix.length);
        for (int k = prefix.length; k < ids.length; k++) {
          ids[k] = tokenizer.randomTokenId(random);
        }
        int outLen = out[0] + random.nextInt(out[1] - out[0] + 1);
        requests.add(PreparedRequest.tokens(ids, outLen));
      }
      return requests;
    }
    TextSynthesizer.Text prefix = text.randomText(config.random().prefixLen(), random);
    for (int i = 0; i < config.numPrompts(); i++) {
      int len = in[0] + random.nextInt(in[1] - in[0] + 1);
      int outLen = out[0] + random.nextInt(out[1] - out[0] + 1);
      TextSynthesizer.Text body = text.randomText(len, random);
      String prompt = prefix.tokens() > 0 ? prefix.text() + " " + body.text() : body.text();
      requests.add(PreparedRequest.text(prompt, prefix.tokens() + body.tokens(), outLen));
    }
    return requests;
  }

  /**
   * vLLM's prefix-repetition dataset: {@code numPrefixes} random prefixes, each followed by {@code
   * numPrompts / numPrefixes} random suffixes, shuffled.
   */
  public static List<PreparedRequest> prefixRepetition(DatasetConfig config, TextSynthesizer text) {
    Random random = new Random(config.seed());
    int perPrefix = Math.max(1, config.numPrompts() / config.prefix().numPrefixes());
    List<PreparedRequest> requests = new ArrayList<>();
    for (int p = 0;
        p < config.prefix().numPrefixes() && requests.size() < config.numPrompts();
        p++) {
      TextSynthesizer.Text prefix = text.randomText(config.prefix().prefixLen(), random);
      for (int s = 0; s < perPrefix && requests.size() < config.numPrompts(); s++) {
        TextSynthesizer.Text suffix = text.randomText(config.prefix().suffixLen(), random);
        String prompt = prefix.tokens() > 0 ? prefix.text() + " " + suffix.text() : suffix.text();
        requests.add(
            PreparedRequest.text(
                prompt, prefix.tokens() + suffix.tokens(), config.prefix().outputLen()));
      }
    }
    Collections.shuffle(requests, random);
    return requests;
  }

  /**
   * A ShareGPT file ({@code [{"conversations": [{"from": "human", "value": ...}, {"from": "gpt",
   * ...}]}]}): the first turn is the prompt, the reply's length the output length (unless fixed),
   * shuffled by the seed and filtered as vLLM filters.
   */
  public static List<PreparedRequest> shareGpt(DatasetConfig config, PromptTokenizer tokenizer) {
    List<String[]> pairs = readShareGpt(config.sharegpt().path());
    Collections.shuffle(pairs, new Random(config.seed()));
    List<PreparedRequest> requests = new ArrayList<>();
    for (String[] pair : pairs) {
      if (requests.size() >= config.numPrompts()) {
        break;
      }
      int promptLen = tokenizer.count(pair[0]);
      int outputLen =
          config.sharegpt().outputLen() > 0
              ? config.sharegpt().outputLen()
              : tokenizer.count(pair[1]);
      if (promptLen < SHAREGPT_MIN_LEN
          || (config.sharegpt().outputLen() <= 0 && outputLen < SHAREGPT_MIN_LEN)
          || promptLen > SHAREGPT_MAX_PROMPT
          || promptLen + outputLen > SHAREGPT_MAX_TOTAL) {
        continue;
      }
      requests.add(PreparedRequest.text(pair[0], promptLen, outputLen));
    }
    if (requests.isEmpty()) {
      throw new IllegalArgumentException(
          config.sharegpt().path()
              + ": no conversation passed the filters (prompt 4..1024 tokens, "
              + "reply >= 4, total <= 2048)");
    }
    return requests;
  }

  /** Reads (prompt, reply) pairs, streaming so large files need not fit in memory as a tree. */
  static List<String[]> readShareGpt(Path path) {
    if (!Files.isRegularFile(path)) {
      throw new IllegalArgumentException("--dataset-path " + path + " is not a readable file");
    }
    List<String[]> pairs = new ArrayList<>();
    try (JsonParser parser = Json.MAPPER.createParser(path.toFile())) {
      if (parser.nextToken() != JsonToken.START_ARRAY) {
        throw new IllegalArgumentException(path + ": a ShareGPT file is a JSON array");
      }
      while (parser.nextToken() == JsonToken.START_OBJECT) {
        JsonNode entry = Json.MAPPER.readTree(parser);
        JsonNode turns =
            entry.has("conversations") ? entry.get("conversations") : entry.get("conversation");
        if (turns == null || !turns.isArray() || turns.size() < 2) {
          continue;
        }
        String prompt = turns.get(0).path("value").asText(null);
        String reply = turns.get(1).path("value").asText(null);
        if (prompt != null && reply != null) {
          pairs.add(new String[] {prompt, reply});
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(path + ": not a ShareGPT JSON file: " + e.getMessage(), e);
    }
    return pairs;
  }
}
