package dev.baton.gateway;

import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The HTTP client's side of one request: the response being written, the status it got, and which
 * workers served it ({@code x-baton-prefill} / {@code x-baton-decode} headers). A failure to write
 * means the client went away ({@link ClientGone}).
 */
final class HttpExchange implements Exchange {

  static final HeaderName PREFILL_HEADER = HeaderNames.create("x-baton-prefill");
  static final HeaderName DECODE_HEADER = HeaderNames.create("x-baton-decode");

  private final ServerResponse res;
  private int status = 200;
  private OutputStream stream;

  HttpExchange(ServerResponse res) {
    this.res = res;
  }

  @Override
  public int status() {
    return status;
  }

  @Override
  public void status(int code) {
    status = code;
  }

  /** Whether an event stream to the client has started (nothing can be retried after that). */
  @Override
  public boolean streaming() {
    return stream != null;
  }

  /** Sends a whole upstream answer as the client's response. */
  @Override
  public void sendAnswer(int code, String contentType, byte[] answer, Worker prefill, Worker decode)
      throws ClientGone {
    status = code;
    res.status(code);
    workerHeaders(prefill, decode);
    res.header(HeaderNames.CONTENT_TYPE, contentType == null ? "application/json" : contentType);
    try {
      res.send(answer);
    } catch (RuntimeException e) {
      throw new ClientGone(e);
    }
  }

  /** Writes bytes of an event stream, opening it (status and headers) on the first write. */
  @Override
  public void writeEvent(byte[] bytes, Worker prefill, Worker decode) throws ClientGone {
    try {
      if (stream == null) {
        res.status(200);
        workerHeaders(prefill, decode);
        res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
        res.header(HeaderNames.CACHE_CONTROL, "no-cache");
        stream = res.outputStream();
      }
      stream.write(bytes);
      stream.flush();
    } catch (IOException | RuntimeException e) {
      throw new ClientGone(e);
    }
  }

  /** Ends the event stream. */
  @Override
  public void finishStream() throws ClientGone {
    try {
      stream.close();
    } catch (IOException | RuntimeException e) {
      throw new ClientGone(e);
    }
  }

  /** Answers with an OpenAI-shaped error. */
  @Override
  public void sendError(int code, String message, String type) {
    status = code;
    Exchange.sendError(res, code, message, type);
  }

  private void workerHeaders(Worker prefill, Worker decode) {
    if (prefill != null) {
      res.header(PREFILL_HEADER, prefill.url());
    }
    if (decode != null) {
      res.header(DECODE_HEADER, decode.url());
    }
  }
}
