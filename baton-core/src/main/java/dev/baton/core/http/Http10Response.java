package dev.baton.core.http;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataWriter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.BooleanSupplier;

/**
 * The response side of HTTP/1.0 support (see {@link Http10Request}): on a connection whose request
 * was HTTP/1.0, rewrites what Helidon writes into an HTTP/1.0 response. The status line says {@code
 * HTTP/1.0}; {@code Connection}/{@code Keep-Alive} headers become {@code Connection: close}; a
 * chunked body (HTTP/1.0 has no chunked coding) loses its {@code Transfer-Encoding} header and its
 * chunk framing, so it ends where the connection does, as an HTTP/1.0 client expects (RFC 9112
 * §6.3); interim 1xx responses are dropped (RFC 9110 §15.2: never sent to an HTTP/1.0 client).
 * Other connections' bytes pass untouched.
 *
 * <p>The input is Helidon's own well-formed output, so the parser trusts its framing.
 */
final class Http10Response implements DataWriter {

  private enum State {
    STATUS_LINE,
    HEADERS,
    BODY,
    CHUNK_SIZE,
    CHUNK_DATA,
    CHUNK_END,
    TRAILERS,
    DONE
  }

  private final DataWriter socket;
  private final BooleanSupplier http10;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private final ByteArrayOutputStream head = new ByteArrayOutputStream();
  private State state = State.STATUS_LINE;
  private boolean interim;
  private boolean chunked;
  private long chunkLeft;

  /**
   * @param socket where the bytes go
   * @param http10 whether this connection's request was HTTP/1.0 (known before any response)
   */
  Http10Response(DataWriter socket, BooleanSupplier http10) {
    this.socket = socket;
    this.http10 = http10;
  }

  @Override
  public void write(BufferData... buffers) {
    if (!http10.getAsBoolean()) {
      socket.write(buffers);
      return;
    }
    BufferData out = translate(buffers);
    if (out != null) {
      socket.write(out);
    }
  }

  @Override
  public void write(BufferData buffer) {
    if (!http10.getAsBoolean()) {
      socket.write(buffer);
      return;
    }
    write(new BufferData[] {buffer});
  }

  @Override
  public void writeNow(BufferData... buffers) {
    if (!http10.getAsBoolean()) {
      socket.writeNow(buffers);
      return;
    }
    BufferData out = translate(buffers);
    if (out != null) {
      socket.writeNow(out);
    }
  }

  @Override
  public void writeNow(BufferData buffer) {
    if (!http10.getAsBoolean()) {
      socket.writeNow(buffer);
      return;
    }
    writeNow(new BufferData[] {buffer});
  }

  @Override
  public void flush() {
    socket.flush();
  }

  @Override
  public void close() {
    socket.close();
  }

  /** The HTTP/1.0 bytes to send for {@code buffers}, or null when there are none. */
  private synchronized BufferData translate(BufferData[] buffers) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (BufferData b : buffers) {
      byte[] in = new byte[b.available()];
      b.read(in);
      translate(in, out);
    }
    return out.size() == 0 ? null : BufferData.create(out.toByteArray());
  }

  private void translate(byte[] in, ByteArrayOutputStream out) {
    int i = 0;
    while (i < in.length) {
      switch (state) {
        case BODY -> {
          out.write(in, i, in.length - i);
          i = in.length;
        }
        case CHUNK_DATA -> {
          int n = (int) Math.min(chunkLeft, in.length - i);
          out.write(in, i, n);
          i += n;
          chunkLeft -= n;
          if (chunkLeft == 0) {
            state = State.CHUNK_END;
          }
        }
        case DONE -> i = in.length;
        default -> {
          line.write(in[i++]);
          if (in[i - 1] == '\n') {
            String text = line.toString(StandardCharsets.ISO_8859_1);
            line.reset();
            onLine(text, out);
          }
        }
      }
    }
  }

  private void onLine(String text, ByteArrayOutputStream out) {
    switch (state) {
      case STATUS_LINE -> {
        // "HTTP/1.1 200 OK": same status, older version.
        interim = text.length() > 9 && text.charAt(9) == '1';
        chunked = false;
        write(head, text.startsWith("HTTP/1.1 ") ? "HTTP/1.0 " + text.substring(9) : text);
        state = State.HEADERS;
      }
      case HEADERS -> onHeader(text, out);
      case CHUNK_SIZE -> {
        String size = text.strip();
        int ext = size.indexOf(';');
        chunkLeft = Long.parseLong(ext < 0 ? size : size.substring(0, ext).strip(), 16);
        state = chunkLeft == 0 ? State.TRAILERS : State.CHUNK_DATA;
      }
      case CHUNK_END -> state = State.CHUNK_SIZE;
      case TRAILERS -> state = text.equals("\r\n") ? State.DONE : State.TRAILERS;
      default -> throw new IllegalStateException("no line expected in " + state);
    }
  }

  private void onHeader(String text, ByteArrayOutputStream out) {
    if (text.equals("\r\n")) {
      if (interim) {
        head.reset();
        state = State.STATUS_LINE;
        return;
      }
      write(head, "Connection: close\r\n\r\n");
      out.writeBytes(head.toByteArray());
      head.reset();
      state = chunked ? State.CHUNK_SIZE : State.BODY;
      return;
    }
    int colon = text.indexOf(':');
    String name = colon < 0 ? "" : text.substring(0, colon).toLowerCase(Locale.ROOT);
    switch (name) {
      case "transfer-encoding" ->
          chunked = text.substring(colon + 1).toLowerCase(Locale.ROOT).contains("chunked");
      case "connection", "keep-alive" -> {}
      default -> write(head, text);
    }
  }

  private static void write(ByteArrayOutputStream out, String text) {
    out.writeBytes(text.getBytes(StandardCharsets.ISO_8859_1));
  }
}
