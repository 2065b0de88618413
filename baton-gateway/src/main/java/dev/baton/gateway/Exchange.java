package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.core.OpenAiError;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Where one flow's answer goes: the HTTP client ({@link HttpExchange}) or, for one part of a
 * request the gateway split up, the part's slot in the merged answer ({@link PdFanOut}). A failure
 * to write means the reader went away ({@link ClientGone}).
 */
interface Exchange {

  /** The client went away: stop everything, answer nothing. */
  final class ClientGone extends Exception {
    private static final long serialVersionUID = 1L;

    ClientGone(Throwable cause) {
      super("client disconnected", cause, false, false);
    }
  }

  /** The status the client got (200 until an answer or error says otherwise). */
  int status();

  void status(int code);

  /** Whether an event stream to the client has started (nothing can be retried after that). */
  boolean streaming();

  /** Sends a whole upstream answer as the client's response. */
  void sendAnswer(int code, String contentType, byte[] answer, Worker prefill, Worker decode)
      throws ClientGone;

  /** Writes one whole event of an event stream, opening the stream on the first write. */
  void writeEvent(byte[] bytes, Worker prefill, Worker decode) throws ClientGone;

  /** Ends the event stream. */
  void finishStream() throws ClientGone;

  /** Answers with an OpenAI-shaped error. */
  void sendError(int code, String message, String type);

  /** Answers {@code res} with an OpenAI-shaped error. */
  static void sendError(ServerResponse res, int code, String message, String type) {
    sendJson(res, code, new OpenAiError(message, type, null, null).toJson());
  }

  static void sendJson(ServerResponse res, int code, JsonNode json) {
    res.status(code);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    try {
      res.send(Json.write(json).getBytes(StandardCharsets.UTF_8));
    } catch (UncheckedIOException e) {
      // the client is gone; nothing to answer
    }
  }
}
