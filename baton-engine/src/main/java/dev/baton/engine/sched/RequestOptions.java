package dev.baton.engine.sched;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Set;

/**
 * The engine-level options of one generation request (sampling itself lives in the request's {@link
 * TokenSampler}).
 *
 * @param maxTokens most output tokens
 * @param minTokens output tokens before EOS, stop token ids or stop strings may end the request
 * @param ignoreEos keep generating after an EOS token
 * @param eosTokenIds the model's end-of-sequence tokens
 * @param stop stop strings (the output is cut before the first match)
 * @param stopTokenIds extra tokens that end the request
 * @param logprobs number of top alternatives to report per token, or -1 for no logprobs at all
 * @param cacheSalt tenant salt mixed into every block hash (null for none)
 * @param kvTransferParams the request's {@code kv_transfer_params}, handed to the KV connector
 */
public record RequestOptions(
    int maxTokens,
    int minTokens,
    boolean ignoreEos,
    Set<Integer> eosTokenIds,
    List<String> stop,
    Set<Integer> stopTokenIds,
    int logprobs,
    String cacheSalt,
    JsonNode kvTransferParams) {

  public RequestOptions {
    if (maxTokens < 1) {
      throw new IllegalArgumentException("maxTokens must be >= 1");
    }
    if (minTokens < 0) {
      throw new IllegalArgumentException("minTokens must be >= 0");
    }
    eosTokenIds = Set.copyOf(eosTokenIds);
    stop = List.copyOf(stop);
    stopTokenIds = Set.copyOf(stopTokenIds);
  }

  /** Greedy-compatible defaults: {@code maxTokens} tokens, stop at EOS, nothing else. */
  public static RequestOptions of(int maxTokens, Set<Integer> eosTokenIds) {
    return new RequestOptions(
        maxTokens, 0, false, eosTokenIds, List.of(), Set.of(), -1, null, null);
  }
}
