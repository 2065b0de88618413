package dev.baton.bench;

import java.util.List;

/**
 * One request a dataset hands to the load generator.
 *
 * @param prompt the new prompt text (the latest user turn for multi-turn sessions); null when
 *     {@code promptTokenIds} is used
 * @param promptTokenIds a prompt given as token ids (completions endpoint only), or null
 * @param history earlier turns of the conversation, oldest first (empty for single-turn)
 * @param promptLen prompt tokens as the dataset counted them (history included)
 * @param outputLen output tokens to ask for ({@code max_tokens})
 * @param sessionId the {@code x-session-id} header value, or null
 */
public record PreparedRequest(
    String prompt,
    int[] promptTokenIds,
    List<ChatMessage> history,
    int promptLen,
    int outputLen,
    String sessionId) {

  /** A single-turn text prompt. */
  public static PreparedRequest text(String prompt, int promptLen, int outputLen) {
    return new PreparedRequest(prompt, null, List.of(), promptLen, outputLen, null);
  }

  /** A single-turn prompt of token ids. */
  public static PreparedRequest tokens(int[] ids, int outputLen) {
    return new PreparedRequest(null, ids, List.of(), ids.length, outputLen, null);
  }

  /** The whole conversation as one completion prompt: earlier turns, then the new one. */
  public String flattenedPrompt() {
    if (history.isEmpty()) {
      return prompt;
    }
    StringBuilder text = new StringBuilder();
    for (ChatMessage m : history) {
      text.append(m.content()).append('\n');
    }
    return text.append(prompt).toString();
  }
}
