package dev.baton.bench;

import java.nio.file.Path;
import java.util.Locale;

/**
 * What to send: the dataset and its shape, one record per dataset kind, with {@code vllm bench
 * serve}'s option names in the comments.
 *
 * @param name random, prefix (also prefix_repetition), multiturn or sharegpt ({@code
 *     --dataset-name})
 * @param numPrompts requests to send ({@code --num-prompts})
 * @param seed {@code --seed}
 * @param tokenIds send random prompts as token-id arrays instead of text
 */
public record DatasetConfig(
    String name,
    int numPrompts,
    long seed,
    boolean tokenIds,
    RandomShape random,
    PrefixShape prefix,
    int multiturnTurns,
    ShareGpt sharegpt) {

  /**
   * Random prompts ({@code --random-input-len}, {@code --random-output-len}); lengths drawn
   * uniformly from len × [1 − rangeRatio, 1 + rangeRatio] ({@code --random-range-ratio}); {@code
   * prefixLen} tokens of one prefix shared by every prompt ({@code --random-prefix-len}).
   * Multi-turn sessions use the same lengths per turn.
   */
  public record RandomShape(int inputLen, int outputLen, double rangeRatio, int prefixLen) {
    public RandomShape {
      if (inputLen < 1 || outputLen < 1) {
        throw new IllegalArgumentException(
            "--random-input-len and --random-output-len must be >= 1");
      }
      if (!(rangeRatio >= 0 && rangeRatio < 1)) {
        throw new IllegalArgumentException("--random-range-ratio must lie in [0, 1)");
      }
      if (prefixLen < 0) {
        throw new IllegalArgumentException("--random-prefix-len must be >= 0");
      }
    }
  }

  /**
   * {@code --prefix-repetition-prefix-len}, {@code -suffix-len}, {@code -num-prefixes}, {@code
   * -output-len}.
   */
  public record PrefixShape(int prefixLen, int suffixLen, int numPrefixes, int outputLen) {
    public PrefixShape {
      if (prefixLen < 0 || suffixLen < 1 || numPrefixes < 1 || outputLen < 1) {
        throw new IllegalArgumentException(
            "prefix dataset needs prefix-len >= 0, suffix-len >= 1, num-prefixes >= 1,"
                + " output-len >= 1");
      }
    }
  }

  /**
   * The ShareGPT file ({@code --dataset-path}) and a fixed output length, or 0 to use each reply's.
   */
  public record ShareGpt(Path path, int outputLen) {}

  public DatasetConfig {
    name = canonical(name);
    if (numPrompts < 1) {
      throw new IllegalArgumentException("--num-prompts must be at least 1");
    }
    if (multiturnTurns < 1) {
      throw new IllegalArgumentException("--multiturn-turns must be >= 1");
    }
    if (name.equals("sharegpt") && sharegpt.path() == null) {
      throw new IllegalArgumentException("--dataset-name sharegpt needs --dataset-path FILE.json");
    }
  }

  /** The vLLM defaults: random, {@code numPrompts} prompts of {@code inputLen} in. */
  public static DatasetConfig random(int numPrompts, int inputLen, int outputLen, long seed) {
    return new DatasetConfig(
        "random",
        numPrompts,
        seed,
        false,
        new RandomShape(inputLen, outputLen, 0.0, 0),
        new PrefixShape(256, 256, 10, 128),
        5,
        new ShareGpt(null, 0));
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

  public DatasetConfig withName(String newName) {
    return new DatasetConfig(
        newName, numPrompts, seed, tokenIds, random, prefix, multiturnTurns, sharegpt);
  }

  public DatasetConfig withNumPrompts(int n) {
    return new DatasetConfig(name, n, seed, tokenIds, random, prefix, multiturnTurns, sharegpt);
  }

  public DatasetConfig withSeed(long newSeed) {
    return new DatasetConfig(
        name, numPrompts, newSeed, tokenIds, random, prefix, multiturnTurns, sharegpt);
  }

  public DatasetConfig withTokenIds(boolean ids) {
    return new DatasetConfig(name, numPrompts, seed, ids, random, prefix, multiturnTurns, sharegpt);
  }

  public DatasetConfig withRandom(double rangeRatio, int prefixLen) {
    return new DatasetConfig(
        name,
        numPrompts,
        seed,
        tokenIds,
        new RandomShape(random.inputLen(), random.outputLen(), rangeRatio, prefixLen),
        prefix,
        multiturnTurns,
        sharegpt);
  }

  public DatasetConfig withPrefix(int prefixLen, int suffixLen, int numPrefixes, int outputLen) {
    return new DatasetConfig(
        name,
        numPrompts,
        seed,
        tokenIds,
        random,
        new PrefixShape(prefixLen, suffixLen, numPrefixes, outputLen),
        multiturnTurns,
        sharegpt);
  }

  public DatasetConfig withMultiturnTurns(int turns) {
    return new DatasetConfig(name, numPrompts, seed, tokenIds, random, prefix, turns, sharegpt);
  }

  public DatasetConfig withPath(Path path, int outputLen) {
    return new DatasetConfig(
        name,
        numPrompts,
        seed,
        tokenIds,
        random,
        prefix,
        multiturnTurns,
        new ShareGpt(path, outputLen));
  }
}
