package dev.baton.gateway.policy;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Turns prompt text into token ids for the prefix index (the model's tokenizer when configured).
 * For the index to match a worker's KV events the ids must be the worker's own: {@link #encode} as
 * a completion prompt is encoded (BOS included where the model adds one), {@link #encodeChat}
 * through the model's chat template.
 */
@FunctionalInterface
public interface PromptTokenizer {
  int[] encode(String text);

  /** A chat's messages as the worker would tokenize them; by default their plain text. */
  default int[] encodeChat(JsonNode messages) {
    return encode(PromptKeys.chatText(messages));
  }
}
