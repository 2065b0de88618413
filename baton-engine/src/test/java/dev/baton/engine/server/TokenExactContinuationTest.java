package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worker side of token-exact migration (issue 13): a stream with {@code return_token_ids} gives
 * the prompt's and every streamed token's ids, and a completion whose prompt is those ids continues
 * the stream exactly where it was cut, for completions and for chat (whose rendered prompt comes
 * back as {@code prompt_token_ids} in the opening chunk). No re-tokenized seam.
 */
class TokenExactContinuationTest {

  @BeforeAll
  static void start() {
    WorkerServerTest.start();
  }

  @AfterAll
  static void stop() {
    WorkerServerTest.stop();
  }

  /** Prompt ids, streamed token ids and streamed text of one streamed choice. */
  record Streamed(List<Integer> promptIds, List<Integer> tokenIds, String text) {}

  static Streamed stream(String path, String body) throws Exception {
    HttpResponse<String> r = WorkerServerTest.post(path, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<Integer> prompt = new ArrayList<>();
    List<Integer> tokens = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    for (String line : r.body().split("\n")) {
      if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
        continue;
      }
      JsonNode chunk = Json.parse(line.substring(6));
      JsonNode promptIds =
          chunk.has("prompt_token_ids")
              ? chunk.get("prompt_token_ids")
              : chunk.at("/choices/0/prompt_token_ids");
      if (promptIds.isArray()) {
        assertThat(prompt).as("prompt ids sent once").isEmpty();
        promptIds.forEach(t -> prompt.add(t.asInt()));
      }
      chunk.at("/choices/0/token_ids").forEach(t -> tokens.add(t.asInt()));
      JsonNode c = chunk.at("/choices/0");
      text.append(c.has("delta") ? c.at("/delta/content").asText("") : c.at("/text").asText(""));
    }
    return new Streamed(prompt, tokens, text.toString());
  }

  static String continuation(List<Integer> ids, int maxTokens) {
    return "{\"prompt\":"
        + ids
        + ",\"max_tokens\":"
        + maxTokens
        + ",\"temperature\":0,\"stream\":true,\"return_token_ids\":true}";
  }

  static void assertContinuesExactly(Streamed whole, int cut) throws Exception {
    assertThat(whole.tokenIds()).hasSize(10);
    assertThat(whole.promptIds()).isNotEmpty();
    List<Integer> resumedPrompt = new ArrayList<>(whole.promptIds());
    resumedPrompt.addAll(whole.tokenIds().subList(0, cut));
    Streamed rest = stream("/v1/completions", continuation(resumedPrompt, 10 - cut));
    assertThat(rest.promptIds()).isEqualTo(resumedPrompt);
    assertThat(rest.tokenIds()).isEqualTo(whole.tokenIds().subList(cut, 10));
    assertThat(whole.text()).endsWith(rest.text());
  }

  @Test
  void aCompletionStreamContinuesExactlyFromItsTokenIds() throws Exception {
    Streamed whole =
        stream(
            "/v1/completions",
            "{\"prompt\":\"continue me\",\"max_tokens\":10,\"temperature\":0,\"stream\":true,"
                + "\"return_token_ids\":true}");
    for (int cut : new int[] {1, 4, 9}) {
      assertContinuesExactly(whole, cut);
    }
  }

  @Test
  void aChatStreamContinuesExactlyFromItsRenderedPromptIds() throws Exception {
    Streamed whole =
        stream(
            "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"continue me\"}],\"max_tokens\":10,"
                + "\"temperature\":0,\"stream\":true,\"return_token_ids\":true}");
    assertContinuesExactly(whole, 5);
  }
}
