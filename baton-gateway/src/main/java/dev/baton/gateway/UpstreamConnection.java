package dev.baton.gateway;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * One keep-alive HTTP/1.1 connection to a worker, used by one request at a time: writes a request
 * in one piece and reads the answer's head and body (Content-Length, chunked, or until the worker
 * closes). Blocking, on the caller's (virtual) thread: no reader thread and no hand-off per
 * exchange, which is what {@link SocketUpstreamClient} is for (docs/PERFORMANCE.md, issue 13).
 */
final class UpstreamConnection implements AutoCloseable {

  /** Largest answer head accepted; a worker's head is a few hundred bytes. */
  static final int MAX_HEAD_BYTES = 64 * 1024;

  private static final int MAX_CHUNK_LINE = 4096;

  /** A connection that failed before a single byte of an answer came back. */
  static final class NothingReceived extends IOException {
    private static final long serialVersionUID = 1L;

    NothingReceived(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The parts of an answer's head the gateway uses. */
  record Head(int status, String contentType, long contentLength, boolean chunked, boolean close) {}

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private byte[] buf = new byte[8192];
  private int pos;
  private int lim;
  private int soTimeout = -1;
  private long idleSince;

  private UpstreamConnection(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  static UpstreamConnection open(String host, int port, int connectTimeoutMs) throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.setKeepAlive(true);
      s.connect(new InetSocketAddress(host, port), connectTimeoutMs);
      return new UpstreamConnection(s);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** Bounds every following read (the head and each body read). */
  void readTimeout(int ms) throws SocketException {
    if (ms != soTimeout) {
      socket.setSoTimeout(ms);
      soTimeout = ms;
    }
  }

  /** Sends one request (head and body in one write). */
  void send(byte[] request) throws IOException {
    try {
      out.write(request);
      out.flush();
    } catch (IOException e) {
      throw new NothingReceived("the request could not be sent: " + e.getMessage(), e);
    }
  }

  /** Reads the answer's head (informational 1xx heads are skipped). */
  Head readHead() throws IOException {
    while (true) {
      Head h = readOneHead();
      if (h.status() >= 200 || h.status() == 101) {
        return h;
      }
    }
  }

  private Head readOneHead() throws IOException {
    int end;
    while ((end = headEnd()) < 0) {
      if (lim - pos >= MAX_HEAD_BYTES) {
        throw new IOException("the worker's answer head exceeds " + MAX_HEAD_BYTES + " bytes");
      }
      boolean nothingYet = lim == pos;
      try {
        if (fill() < 0) {
          if (nothingYet) {
            throw new NothingReceived("the worker closed the connection before answering", null);
          }
          throw new EOFException("the worker closed the connection inside the answer head");
        }
      } catch (SocketException e) {
        if (nothingYet) {
          throw new NothingReceived("the connection broke before an answer: " + e.getMessage(), e);
        }
        throw e;
      }
    }
    String head = new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1);
    pos = end;
    return parseHead(head);
  }

  /** The offset just past the blank line ending the head, or -1 while it has not arrived. */
  private int headEnd() {
    for (int i = pos; i < lim; i++) {
      if (buf[i] == '\n') {
        if (i + 1 < lim && buf[i + 1] == '\n') {
          return i + 2;
        }
        if (i + 2 < lim && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
          return i + 3;
        }
      }
    }
    return -1;
  }

  private static Head parseHead(String head) throws IOException {
    int eol = head.indexOf('\n');
    String statusLine = head.substring(0, eol).strip();
    if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12) {
      throw new IOException("not an HTTP/1.x answer: " + snippet(statusLine));
    }
    int status;
    try {
      status = Integer.parseInt(statusLine, 9, 12, 10);
    } catch (NumberFormatException e) {
      throw new IOException("bad status line: " + snippet(statusLine));
    }
    boolean http10 = statusLine.startsWith("HTTP/1.0");
    String contentType = null;
    long length = -1;
    boolean chunked = false;
    Boolean close = null;
    for (int start = eol + 1; start < head.length(); start = eol + 1) {
      eol = head.indexOf('\n', start);
      if (eol < 0) {
        eol = head.length();
      }
      int colon = head.indexOf(':', start);
      if (colon <= start || colon > eol) {
        continue;
      }
      String name = head.substring(start, colon).strip().toLowerCase(Locale.ROOT);
      String value = head.substring(colon + 1, eol).strip();
      switch (name) {
        case "content-type" -> contentType = value;
        case "content-length" -> {
          try {
            length = Long.parseLong(value);
          } catch (NumberFormatException e) {
            throw new IOException("bad Content-Length: " + snippet(value));
          }
          if (length < 0) {
            throw new IOException("bad Content-Length: " + value);
          }
        }
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).endsWith("chunked");
        case "connection" -> {
          String v = value.toLowerCase(Locale.ROOT);
          if (v.contains("close")) {
            close = true;
          } else if (v.contains("keep-alive") && close == null) {
            close = false;
          }
        }
        default -> {}
      }
    }
    boolean closeAfter = close != null ? close : http10;
    if (chunked) {
      length = -1; // RFC 9112 6.3: chunked wins over a Content-Length
    } else if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
      length = 0;
    } else if (length < 0) {
      closeAfter = true; // the body runs until the worker closes
    }
    return new Head(status, contentType, length, chunked, closeAfter);
  }

  private static String snippet(String s) {
    return s.length() > 80 ? s.substring(0, 80) + "..." : s;
  }

  /** Reads more bytes into the buffer; -1 at the end of the stream. */
  private int fill() throws IOException {
    if (pos == lim) {
      pos = 0;
      lim = 0;
    } else if (lim == buf.length) {
      if (pos > 0) {
        System.arraycopy(buf, pos, buf, 0, lim - pos);
        lim -= pos;
        pos = 0;
      } else {
        buf = Arrays.copyOf(buf, Math.min(buf.length * 2, MAX_HEAD_BYTES + 8192));
      }
    }
    int n = in.read(buf, lim, buf.length - lim);
    if (n > 0) {
      lim += n;
    }
    return n;
  }

  /** Whether the connection can carry another request (nothing left over, socket open). */
  boolean reusable() {
    return pos == lim && !socket.isClosed();
  }

  long idleSince() {
    return idleSince;
  }

  void idleSince(long nanos) {
    idleSince = nanos;
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  /** The answer's body as it arrives; {@link #complete()} once read to its end. */
  InputStream body(Head head) {
    if (head.chunked()) {
      return new ChunkedBody();
    }
    return new LengthBody(head.contentLength());
  }

  /** Common part of the two body readers: the end flag and readAllBytes. */
  private abstract class Body extends InputStream {
    boolean complete;

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }
  }

  /** A body of known length, or (length -1) one that runs until the connection closes. */
  private final class LengthBody extends Body {
    private long remaining;
    private final boolean untilClose;

    LengthBody(long length) {
      untilClose = length < 0;
      remaining = untilClose ? Long.MAX_VALUE : length;
      complete = length == 0;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (remaining == 0) {
        complete = true;
        return -1;
      }
      if (len == 0) {
        return 0;
      }
      int want = (int) Math.min(len, remaining);
      int n;
      if (pos < lim) {
        n = Math.min(want, lim - pos);
        System.arraycopy(buf, pos, b, off, n);
        pos += n;
      } else {
        n = in.read(b, off, want); // straight into the caller's array: no copy
        if (n < 0) {
          if (untilClose) {
            remaining = 0;
            complete = true;
            return -1;
          }
          throw new EOFException(
              "the worker closed the connection with " + remaining + " bytes due");
        }
      }
      remaining -= n;
      if (remaining == 0) {
        complete = true;
      }
      return n;
    }

    /** A body of known length is read into one array of that length. */
    @Override
    public byte[] readAllBytes() throws IOException {
      if (untilClose || remaining > Integer.MAX_VALUE - 8) {
        return super.readAllBytes();
      }
      byte[] all = new byte[(int) remaining];
      int off = 0;
      while (off < all.length) {
        int n = read(all, off, all.length - off);
        if (n < 0) {
          throw new EOFException("the worker closed the connection inside the answer");
        }
        off += n;
      }
      complete = true;
      remaining = 0;
      return all;
    }

    @Override
    public int available() {
      return (int) Math.min(remaining, lim - pos);
    }
  }

  /** A chunked body (RFC 9112 section 7.1); each read returns what one socket read brought. */
  private final class ChunkedBody extends Body {
    private long chunkLeft; // bytes of the current chunk still due; 0 = a size line is next
    private boolean afterChunk; // the CRLF ending a chunk's data is next

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (complete) {
        return -1;
      }
      if (len == 0) {
        return 0;
      }
      if (chunkLeft == 0) {
        if (afterChunk) {
          expectLineEnd();
          afterChunk = false;
        }
        chunkLeft = chunkSize();
        if (chunkLeft == 0) {
          skipTrailers();
          complete = true;
          return -1;
        }
      }
      if (pos == lim && fill() < 0) {
        throw new EOFException("the worker closed the connection inside a chunk");
      }
      int n = (int) Math.min(Math.min(len, chunkLeft), lim - pos);
      System.arraycopy(buf, pos, b, off, n);
      pos += n;
      chunkLeft -= n;
      if (chunkLeft == 0) {
        afterChunk = true;
      }
      return n;
    }

    private long chunkSize() throws IOException {
      String line = line();
      int semi = line.indexOf(';');
      String hex = (semi >= 0 ? line.substring(0, semi) : line).trim();
      if (hex.isEmpty() || hex.length() > 15) {
        throw new IOException("bad chunk size line: " + snippet(line));
      }
      try {
        return Long.parseLong(hex, 16);
      } catch (NumberFormatException e) {
        throw new IOException("bad chunk size line: " + snippet(line));
      }
    }

    private void expectLineEnd() throws IOException {
      if (!line().isEmpty()) {
        throw new IOException("a chunk's data is longer than its size");
      }
    }

    private void skipTrailers() throws IOException {
      while (!line().isEmpty()) {
        // trailer fields are not used
      }
    }

    /** One line of the chunk framing, without its line end. */
    private String line() throws IOException {
      int start = pos;
      while (true) {
        for (int i = start; i < lim; i++) {
          if (buf[i] == '\n') {
            int end = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
            String s = new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1);
            pos = i + 1;
            return s;
          }
        }
        if (lim - pos > MAX_CHUNK_LINE) {
          throw new IOException("a chunk framing line exceeds " + MAX_CHUNK_LINE + " bytes");
        }
        int before = lim - pos;
        if (fill() < 0) {
          throw new EOFException("the worker closed the connection inside the chunk framing");
        }
        start = pos + before;
      }
    }

    @Override
    public int available() {
      return complete ? 0 : (int) Math.min(chunkLeft, lim - pos);
    }
  }

  /** Whether {@code body} (from {@link #body}) was read to its end. */
  static boolean complete(InputStream body) {
    return body instanceof Body b && b.complete;
  }
}
