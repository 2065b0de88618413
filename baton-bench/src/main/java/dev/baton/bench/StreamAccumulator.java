package dev.baton.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import java.util.Arrays;

/**
 * Turns the lines of an OpenAI server-sent-event stream, each with its arrival time, into a {@link
 * RequestResult}, timing exactly as {@code vllm bench serve} does: every event whose {@code
 * choices} is non-empty is a chunk; the first sets TTFT, each later one adds an ITL gap, and the
 * last one ends E2EL. A {@code usage} block sets the token counts; without one the output tokens
 * are the chunks that carried text. An {@code error} event or a line that is not JSON fails the
 * request with that reason.
 */
final class StreamAccumulator {

  private final boolean chat;
  private final long sendNanos;
  private final StringBuilder data = new StringBuilder();
  private final StringBuilder text = new StringBuilder();
  private long[] gaps = new long[16];
  private int gapCount;
  private long eventNanos = -1;
  private long firstChunkNanos = -1;
  private long lastChunkNanos = -1;
  private int textChunks;
  private int usageCompletionTokens = -1;
  private int usagePromptTokens = -1;
  private boolean done;
  private String errorKind;
  private String error;

  StreamAccumulator(boolean chat, long sendNanos) {
    this.chat = chat;
    this.sendNanos = sendNanos;
  }

  /** Whether the stream said {@code [DONE]} or failed; later lines are ignored. */
  boolean finished() {
    return done || error != null;
  }

  /** Feeds one line (without its line terminator) that arrived at {@code nowNanos}. */
  void onLine(String line, long nowNanos) {
    if (finished()) {
      return;
    }
    if (line.isEmpty()) {
      dispatch();
      return;
    }
    if (line.startsWith(":")) {
      return; // SSE comment (keep-alive)
    }
    if (line.startsWith("data:")) {
      String value = line.substring(5);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
      if (data.length() > 0) {
        data.append('\n');
      } else {
        eventNanos = nowNanos;
      }
      data.append(value);
      return;
    }
    if (line.startsWith("event:") || line.startsWith("id:") || line.startsWith("retry:")) {
      return;
    }
    fail("malformed SSE", "malformed SSE line: " + abbreviate(line));
  }

  private void dispatch() {
    if (data.length() == 0) {
      return;
    }
    String payload = data.toString().strip();
    data.setLength(0);
    if (payload.equals("[DONE]")) {
      done = true;
      return;
    }
    JsonNode event;
    try {
      event = Json.parse(payload);
    } catch (IllegalArgumentException e) {
      fail("malformed SSE", "malformed SSE data (not JSON): " + abbreviate(payload));
      return;
    }
    onEvent(event, eventNanos);
  }

  /** Handles one parsed event (a streamed chunk or a whole non-streamed response). */
  void onEvent(JsonNode event, long nowNanos) {
    if (!event.isObject()) {
      fail("malformed SSE", "event is not a JSON object: " + abbreviate(event.toString()));
      return;
    }
    JsonNode errorNode = event.get("error");
    if (errorNode != null && !errorNode.isNull()) {
      JsonNode message = errorNode.get("message");
      fail(
          "server error in stream",
          "server error: " + (message != null ? message.asText() : errorNode.toString()));
      return;
    }
    JsonNode choices = event.get("choices");
    if (choices != null && choices.isArray() && !choices.isEmpty()) {
      if (firstChunkNanos < 0) {
        firstChunkNanos = nowNanos;
      } else {
        addGap(nowNanos - lastChunkNanos);
      }
      lastChunkNanos = nowNanos;
      String piece = chunkText(choices.get(0));
      if (!piece.isEmpty()) {
        textChunks++;
        text.append(piece);
      }
    }
    JsonNode usage = event.get("usage");
    if (usage != null && usage.isObject()) {
      JsonNode completion = usage.get("completion_tokens");
      if (completion != null && completion.canConvertToInt()) {
        usageCompletionTokens = completion.asInt();
      }
      JsonNode prompt = usage.get("prompt_tokens");
      if (prompt != null && prompt.canConvertToInt()) {
        usagePromptTokens = prompt.asInt();
      }
    }
  }

  private String chunkText(JsonNode choice) {
    JsonNode node;
    if (chat) {
      JsonNode holder = choice.has("delta") ? choice.get("delta") : choice.get("message");
      node = holder == null ? null : holder.get("content");
    } else {
      node = choice.get("text");
    }
    return node == null || node.isNull() ? "" : node.asText();
  }

  private void addGap(long gap) {
    if (gapCount == gaps.length) {
      gaps = Arrays.copyOf(gaps, gapCount * 2);
    }
    gaps[gapCount++] = gap;
  }

  void fail(String kind, String message) {
    if (error == null) {
      errorKind = kind;
      error = message;
    }
  }

  /** The result once the stream has ended (cleanly or not) at {@code endNanos}. */
  RequestResult finish(long endNanos) {
    if (error == null) {
      dispatch(); // a last event without its blank line
    }
    if (error != null) {
      return RequestResult.failure(sendNanos, endNanos - sendNanos, errorKind, error);
    }
    if (firstChunkNanos < 0) {
      return RequestResult.failure(
          sendNanos,
          endNanos - sendNanos,
          "no chunk",
          "Never received a valid chunk to calculate TTFT; the request counts as failed");
    }
    boolean usage = usageCompletionTokens >= 0;
    return new RequestResult(
        true,
        sendNanos,
        firstChunkNanos - sendNanos,
        lastChunkNanos - sendNanos,
        Arrays.copyOf(gaps, gapCount),
        usage ? usageCompletionTokens : textChunks,
        usage,
        usagePromptTokens,
        text.toString(),
        "",
        "");
  }

  static String abbreviate(String s) {
    String oneLine = s.replace('\n', ' ').replace('\r', ' ');
    return oneLine.length() <= 200 ? oneLine : oneLine.substring(0, 200) + "...";
  }
}
