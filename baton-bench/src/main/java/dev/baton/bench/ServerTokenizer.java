package dev.baton.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.io.IOException;

/**
 * Counts tokens with the server's {@code POST /tokenize} (vLLM's and Baton's tokenizer endpoint:
 * {@code {"prompt": ..., "add_special_tokens": false}} answers {@code {"count": N, "tokens":
 * [...]}}).
 */
public final class ServerTokenizer implements PromptTokenizer {

  private final OpenAiClient client;

  public ServerTokenizer(OpenAiClient client) {
    this.client = client;
  }

  /** Whether the server answers {@code /tokenize}; used to pick the tokenizer automatically. */
  public boolean available() {
    try {
      count("hello world");
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public String id() {
    return "server:" + client.config().resolve("/tokenize");
  }

  @Override
  public int count(String text) {
    ObjectNode body = Json.object();
    if (client.config().model() != null) {
      body.put("model", client.config().model());
    }
    body.put("prompt", text).put("add_special_tokens", false);
    JsonNode answer;
    try {
      answer = client.postJson("/tokenize", body);
    } catch (IOException e) {
      throw new IllegalStateException("the server's /tokenize failed: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while calling /tokenize", e);
    }
    if (answer.hasNonNull("count")) {
      return answer.get("count").asInt();
    }
    if (answer.path("tokens").isArray()) {
      return answer.get("tokens").size();
    }
    throw new IllegalStateException("/tokenize answered without count or tokens: " + answer);
  }
}
