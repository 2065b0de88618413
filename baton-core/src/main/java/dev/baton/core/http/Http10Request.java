package dev.baton.core.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * The request side of HTTP/1.0 support: sits between the socket and Helidon's HTTP/1.1 parser and
 * rewrites the head of a connection's first request when it is HTTP/1.0 (Helidon 4 answers those
 * with 505; vLLM's uvicorn answers them). The request line's version becomes {@code HTTP/1.1}; the
 * client's {@code Connection}, {@code Keep-Alive} and {@code Expect} headers are dropped and {@code
 * Connection: close} added (every HTTP/1.0 exchange ends with the connection, and RFC 9110 §10.1.1
 * says to ignore {@code 100-continue} from an HTTP/1.0 client); a missing {@code Host} (optional in
 * HTTP/1.0, required by Helidon) becomes the listener's own address. Everything after the head
 * passes untouched, as does every byte of a connection that did not start with HTTP/1.0.
 *
 * <p>Memory stays bounded: a line longer than {@link #MAX_LINE} (longer than Helidon accepts
 * anyway) is handed over as it is and translation stops, so Helidon refuses it as it would have.
 */
final class Http10Request implements Supplier<byte[]> {

  /** Helidon's default limit on the whole header block; no acceptable line is longer. */
  static final int MAX_LINE = 16 * 1024;

  private static final String HTTP_10 = " HTTP/1.0\r\n";

  private enum State {
    REQUEST_LINE,
    HEADERS,
    PASS
  }

  private final Supplier<byte[]> source;
  private final String ownHost;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private State state = State.REQUEST_LINE;
  private boolean sawHost;
  private volatile boolean http10;

  /**
   * @param source the socket's bytes; null at end of stream
   * @param ownHost the {@code Host} value for a request that names none
   */
  Http10Request(Supplier<byte[]> source, String ownHost) {
    this.source = source;
    this.ownHost = ownHost;
  }

  /** True once the connection's first request line said HTTP/1.0. */
  boolean isHttp10() {
    return http10;
  }

  @Override
  public byte[] get() {
    while (true) {
      byte[] in = source.get();
      if (in == null) {
        // End of stream inside a line: hand over what arrived, Helidon reports the broken request.
        state = State.PASS;
        if (line.size() > 0) {
          byte[] rest = line.toByteArray();
          line.reset();
          return rest;
        }
        return null;
      }
      if (state == State.PASS) {
        return in;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + 64);
      translate(in, out);
      if (out.size() > 0) {
        return out.toByteArray();
      }
      // A partial line only: read on.
    }
  }

  private void translate(byte[] in, ByteArrayOutputStream out) {
    for (int i = 0; i < in.length; i++) {
      if (state == State.PASS) {
        out.write(in, i, in.length - i);
        return;
      }
      line.write(in[i]);
      if (in[i] == '\n') {
        String text = line.toString(StandardCharsets.ISO_8859_1);
        line.reset();
        onLine(text, out);
      } else if (line.size() > MAX_LINE) {
        out.writeBytes(line.toByteArray());
        line.reset();
        state = State.PASS;
      }
    }
  }

  private void onLine(String text, ByteArrayOutputStream out) {
    if (state == State.REQUEST_LINE) {
      state = State.PASS;
      if (text.endsWith(HTTP_10)) {
        http10 = true;
        state = State.HEADERS;
        text = text.substring(0, text.length() - HTTP_10.length()) + " HTTP/1.1\r\n";
      }
      write(out, text);
      return;
    }
    if (text.equals("\r\n")) {
      if (!sawHost) {
        write(out, "Host: " + ownHost + "\r\n");
      }
      write(out, "Connection: close\r\n\r\n");
      state = State.PASS;
      return;
    }
    int colon = text.indexOf(':');
    String name = colon < 0 ? "" : text.substring(0, colon);
    if (name.equalsIgnoreCase("connection")
        || name.equalsIgnoreCase("keep-alive")
        || name.equalsIgnoreCase("expect")) {
      return;
    }
    if (name.equalsIgnoreCase("host")) {
      sawHost = true;
    }
    write(out, text);
  }

  private static void write(ByteArrayOutputStream out, String text) {
    out.writeBytes(text.getBytes(StandardCharsets.ISO_8859_1));
  }
}
