package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.util.List;

/**
 * The request that continues a broken stream on another worker. Token-exact where the stream
 * carried token ids: a completion whose prompt is the prompt's ids plus the ids streamed so far (no
 * re-tokenized seam, so greedy output is what an unbroken stream gives); else the text fallback:
 * the prompt plus the text streamed so far.
 */
final class Continuation {

  /** Completion sampling fields a chat request shares with a completions request. */
  private static final List<String> SHARED_FIELDS =
      List.of(
          "model",
          "temperature",
          "top_p",
          "top_k",
          "min_p",
          "seed",
          "stop",
          "stop_token_ids",
          "ignore_eos",
          "presence_penalty",
          "frequency_penalty",
          "repetition_penalty",
          "logit_bias",
          "skip_special_tokens",
          "spaces_between_special_tokens",
          "include_stop_str_in_output",
          "cache_salt",
          "user",
          "stream_options");

  /** Fields whose output a token-id continuation could not reproduce: text fallback instead. */
  private static final List<String> NOT_TOKEN_EXACT =
      List.of("logprobs", "top_logprobs", "echo", "suffix", "best_of", "tools", "response_format");

  private Continuation() {}

  /**
   * Whether the gateway asks the worker for token ids ({@code return_token_ids}, stripped again
   * from what the client gets) so that a break can be continued token-exactly: where that is
   * possible and the client did not ask for ids itself.
   */
  static boolean tracksTokenIds(GatewayConfig config, ClientCall call) {
    return tokenExactPossible(config, call)
        && !call.body().path("return_token_ids").asBoolean(false);
  }

  /**
   * Whether a break of this stream can be continued from token ids: streams of migratable protocols
   * with one choice and nothing a completion from ids would answer differently.
   */
  static boolean tokenExactPossible(GatewayConfig config, ClientCall call) {
    ObjectNode body = call.body();
    if (!config.migration().enabled() || !call.stream() || !call.protocol().migratable()) {
      return false;
    }
    if (body.path("n").asInt(1) != 1) {
      return false;
    }
    for (String f : NOT_TOKEN_EXACT) {
      JsonNode v = body.get(f);
      if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean())) {
        return false;
      }
    }
    return true;
  }

  /**
   * A completions request continuing the stream from token ids (chat too: its rendered prompt came
   * back as {@code prompt_token_ids}); the budget reduced by the tokens streamed.
   */
  static ObjectNode fromTokens(
      ObjectNode original, boolean chat, List<Integer> promptIds, List<Integer> generatedIds) {
    ObjectNode c;
    if (chat) {
      c = Json.object();
      for (String f : SHARED_FIELDS) {
        if (original.has(f)) {
          c.set(f, original.get(f).deepCopy());
        }
      }
      JsonNode budget =
          original.hasNonNull("max_completion_tokens")
              ? original.get("max_completion_tokens")
              : original.get("max_tokens");
      if (budget != null && !budget.isNull()) {
        c.set("max_tokens", budget.deepCopy());
      }
      JsonNode min = original.get("min_tokens");
      if (min != null) {
        c.set("min_tokens", min.deepCopy());
      }
    } else {
      c = original.deepCopy();
      c.remove("kv_transfer_params");
    }
    ArrayNode prompt = c.putArray("prompt");
    promptIds.forEach(prompt::add);
    generatedIds.forEach(prompt::add);
    c.put("stream", true);
    c.put("return_token_ids", true);
    reduceBudgets(c, generatedIds.size());
    return c;
  }

  /**
   * The text fallback: the prompt plus the text already sent (chat: an assistant message continued
   * with {@code continue_final_message}). Null when the prompt is not text.
   */
  static ObjectNode fromText(
      ObjectNode original, boolean chat, CharSequence generated, int generatedTokens) {
    ObjectNode c = original.deepCopy();
    c.remove("kv_transfer_params");
    if (chat) {
      ArrayNode messages = c.withArray("messages");
      ObjectNode assistant = messages.addObject();
      assistant.put("role", "assistant");
      assistant.put("content", generated.toString());
      c.put("continue_final_message", true);
      c.put("add_generation_prompt", false);
    } else {
      JsonNode prompt = c.get("prompt");
      if (prompt != null && prompt.isTextual()) {
        c.put("prompt", prompt.asText() + generated);
      } else if (prompt != null
          && prompt.isArray()
          && prompt.size() == 1
          && prompt.get(0).isTextual()) {
        c.put("prompt", prompt.get(0).asText() + generated);
      } else {
        return null;
      }
    }
    reduceBudgets(c, generatedTokens);
    return c;
  }

  private static void reduceBudgets(ObjectNode c, int generated) {
    for (String budget : new String[] {"max_tokens", "max_completion_tokens", "min_tokens"}) {
      if (c.hasNonNull(budget)) {
        c.put(budget, Math.max(0, c.get(budget).asInt() - generated));
      }
    }
  }

  /** Tokens left to generate; {@link Integer#MAX_VALUE} without a budget. */
  static int remaining(ObjectNode continuation) {
    int left = Integer.MAX_VALUE;
    for (String budget : new String[] {"max_tokens", "max_completion_tokens"}) {
      if (continuation.hasNonNull(budget)) {
        left = Math.min(left, continuation.get(budget).asInt());
      }
    }
    return left;
  }
}
