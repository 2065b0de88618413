package dev.baton.bench;

import java.nio.file.Path;
import java.util.Locale;

/**
 * What to send: the dataset and its shape, with {@code vllm bench serve}'s option names in the
 * comments.
 *
 * @param name random, prefix (also prefix_repetition), multiturn or sharegpt ({@code
 *     --dataset-name})
 * @param path the ShareGPT JSON file ({@code --dataset-path})
 * @param numPrompts requests to send ({@code --num-prompts})
 * @param randomInputLen {@code --random-input-len}
 * @param randomOutputLen {@code --random-output-len}
 * @param randomRangeRatio lengths drawn uniformly from len × [1 − r, 1 + r] ({@code
 *     --random-range-ratio})
 * @param randomPrefixLen tokens of one prefix shared by every random prompt ({@code
 *     --random-prefix-len})
 * @param prefixLen {@code --prefix-repetition-prefix-len}
 * @param suffixLen {@code --prefix-repetition-suffix-len}
 * @param numPrefixes {@code --prefix-repetition-num-prefixes}
 * @param prefixOutputLen {@code --prefix-repetition-output-len}
 * @param multiturnTurns turns per multi-turn session
 * @param sharegptOutputLen fixed output length for ShareGPT, or 0 to use each reply's length
 * @param tokenIds send random prompts as token-id arrays instead of text
 * @param seed {@code --seed}
 */
public record DatasetConfig(
    String name,
    Path path,
    int numPrompts,
    int randomInputLen,
    int randomOutputLen,
    double randomRangeRatio,
    int randomPrefixLen,
    int prefixLen,
    int suffixLen,
    int numPrefixes,
    int prefixOutputLen,
    int multiturnTurns,
    int sharegptOutputLen,
    boolean tokenIds,
    long seed) {

  public DatasetConfig {
    name = canonical(name);
    if (numPrompts < 1) {
      throw new IllegalArgumentException("--num-prompts must be at least 1");
    }
    if (randomInputLen < 1 || randomOutputLen < 1) {
      throw new IllegalArgumentException("--random-input-len and --random-output-len must be >= 1");
    }
    if (!(randomRangeRatio >= 0 && randomRangeRatio < 1)) {
      throw new IllegalArgumentException("--random-range-ratio must lie in [0, 1)");
    }
    if (randomPrefixLen < 0) {
      throw new IllegalArgumentException("--random-prefix-len must be >= 0");
    }
    if (prefixLen < 0 || suffixLen < 1 || numPrefixes < 1 || prefixOutputLen < 1) {
      throw new IllegalArgumentException(
          "prefix dataset needs prefix-len >= 0, suffix-len >= 1, num-prefixes >= 1, output-len >= 1");
    }
    if (multiturnTurns < 1) {
      throw new IllegalArgumentException("--multiturn-turns must be >= 1");
    }
    if (name.equals("sharegpt") && path == null) {
      throw new IllegalArgumentException("--dataset-name sharegpt needs --dataset-path FILE.json");
    }
  }

  /** The vLLM defaults: random, 1000 prompts of 1024 in / 128 out. */
  public static DatasetConfig random(int numPrompts, int inputLen, int outputLen, long seed) {
    return new DatasetConfig(
        "random",
        null,
        numPrompts,
        inputLen,
        outputLen,
        0.0,
        0,
        256,
        256,
        10,
        128,
        5,
        0,
        false,
        seed);
  }

  private static String canonical(String name) {
    String n = name == null ? "random" : name.toLowerCase(Locale.ROOT).replace('-', '_');
    return switch (n) {
      case "random" -> "random";
      case "prefix", "prefix_repetition" -> "prefix";
      case "multiturn", "multi_turn" -> "multiturn";
      case "sharegpt" -> "sharegpt";
      default ->
          throw new IllegalArgumentException(
              "--dataset-name must be random, prefix, multiturn or sharegpt, got " + name);
    };
  }

  public DatasetConfig withNumPrompts(int n) {
    return new DatasetConfig(
        name,
        path,
        n,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withSeed(long newSeed) {
    return new DatasetConfig(
        name,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        tokenIds,
        newSeed);
  }

  public DatasetConfig withName(String newName) {
    return new DatasetConfig(
        newName,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withPrefix(
      int newPrefixLen, int newSuffixLen, int newNumPrefixes, int newOutputLen) {
    return new DatasetConfig(
        name,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        newPrefixLen,
        newSuffixLen,
        newNumPrefixes,
        newOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withMultiturnTurns(int turns) {
    return new DatasetConfig(
        name,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        turns,
        sharegptOutputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withRandom(double rangeRatio, int prefix) {
    return new DatasetConfig(
        name,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        rangeRatio,
        prefix,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withPath(Path newPath, int outputLen) {
    return new DatasetConfig(
        name,
        newPath,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        outputLen,
        tokenIds,
        seed);
  }

  public DatasetConfig withTokenIds(boolean ids) {
    return new DatasetConfig(
        name,
        path,
        numPrompts,
        randomInputLen,
        randomOutputLen,
        randomRangeRatio,
        randomPrefixLen,
        prefixLen,
        suffixLen,
        numPrefixes,
        prefixOutputLen,
        multiturnTurns,
        sharegptOutputLen,
        ids,
        seed);
  }
}
