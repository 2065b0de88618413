package dev.baton.core;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** OpenAI's {@code usage} object: prompt, completion and prefix-cached prompt tokens. */
public record Usage(int promptTokens, int completionTokens, int cachedTokens) {

  public int totalTokens() {
    return promptTokens + completionTokens;
  }

  public ObjectNode toJson() {
    ObjectNode u = Json.object();
    u.put("prompt_tokens", promptTokens);
    u.put("total_tokens", totalTokens());
    u.put("completion_tokens", completionTokens);
    u.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
    return u;
  }
}
