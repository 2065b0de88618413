package dev.baton.testkit;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A small HTTP/1.1 server on raw sockets for the stand-ins of vLLM and SGLang workers: keep-alive,
 * fixed-length and chunked answers, and the failure modes a real process has (refusing connections
 * when stopped, connections cut without a clean end as after kill -9).
 */
public class StandInServer implements AutoCloseable {

  /** One parsed request. */
  public record Request(String method, String path, Map<String, String> headers, byte[] body) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** What a handler writes to. */
  public interface Exchange {
    void send(int status, String contentType, String body) throws IOException;

    /** Starts a chunked answer; then {@link #chunk} each piece and {@link #end}. */
    void startChunked(int status, String contentType) throws IOException;

    void chunk(String piece) throws IOException;

    void end() throws IOException;

    /** Cuts the connection mid-answer, as a killed process would. */
    void cut();

    /** Whether the peer has closed the connection (checked by reading without blocking long). */
    boolean peerClosed();
  }

  @FunctionalInterface
  public interface Handler {
    void handle(Request request, Exchange exchange) throws Exception;
  }

  private final Handler handler;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile ServerSocket server;
  private volatile int port;

  public StandInServer(Handler handler) {
    this.handler = handler;
  }

  /** Starts on a free loopback port (or the same port again after {@link #stop}). */
  public synchronized StandInServer start() throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 256);
    port = s.getLocalPort();
    server = s;
    Thread.ofVirtual().start(() -> accept(s));
    return this;
  }

  public int port() {
    return port;
  }

  public String url() {
    return "http://127.0.0.1:" + port;
  }

  /** Stops like a killed process: the port refuses, open connections end abruptly. */
  public synchronized void stop() {
    try {
      if (server != null) {
        server.close();
      }
    } catch (IOException ignored) {
      // closing anyway
    }
    for (Socket s : open) {
      closeAbruptly(s);
    }
    open.clear();
  }

  @Override
  public void close() {
    stop();
  }

  private void accept(ServerSocket s) {
    while (!s.isClosed()) {
      try {
        Socket socket = s.accept();
        socket.setTcpNoDelay(true);
        synchronized (this) {
          // accept() can hand out a queued connection after stop() closed the listener.
          if (s.isClosed()) {
            closeAbruptly(socket);
            return;
          }
          open.add(socket);
        }
        Thread.ofVirtual().start(() -> serve(socket));
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      InputStream in = new BufferedInputStream(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      while (true) {
        Request req = read(in);
        if (req == null) {
          return;
        }

        SocketExchange ex = new SocketExchange(socket, in, out);
        try {
          handler.handle(req, ex);
        } catch (Exception e) {
          if (!ex.started && !socket.isClosed()) {
            ex.send(500, "text/plain", "stand-in failed: " + e);
          } else {
            return;
          }
        }
        if (ex.cut || socket.isClosed()) {
          return;
        }
      }
    } catch (IOException e) {
      // connection gone
    } finally {
      open.remove(socket);
    }
  }

  private static Request read(InputStream in) throws IOException {
    String requestLine = line(in);
    if (requestLine == null || requestLine.isEmpty()) {
      return null;
    }
    String[] parts = requestLine.split(" ");
    Map<String, String> headers = new LinkedHashMap<>();
    String h;
    while ((h = line(in)) != null && !h.isEmpty()) {
      int colon = h.indexOf(':');
      headers.put(
          h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
    }
    byte[] body = new byte[0];
    if (headers.containsKey("content-length")) {
      body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
    } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      while (true) {
        int size = Integer.parseInt(line(in).split(";")[0].trim(), 16);
        if (size == 0) {
          line(in);
          break;
        }
        b.write(in.readNBytes(size));
        line(in);
      }
      body = b.toByteArray();
    }
    return new Request(parts[0], parts[1], headers, body);
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * Closes mid-answer as the kernel does for a killed process that had read its request: a FIN with
   * no end-of-body (a chunked answer stops without its last chunk).
   */
  private static void closeAbruptly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  private static final class SocketExchange implements Exchange {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    boolean started;
    boolean cut;

    SocketExchange(Socket socket, InputStream in, OutputStream out) {
      this.socket = socket;
      this.in = in;
      this.out = out;
    }

    @Override
    public void send(int status, String contentType, String body) throws IOException {
      started = true;
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      out.write(
          ("HTTP/1.1 "
                  + status
                  + " X\r\nContent-Type: "
                  + contentType
                  + "\r\nContent-Length: "
                  + b.length
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.write(b);
      out.flush();
    }

    @Override
    public void startChunked(int status, String contentType) throws IOException {
      started = true;
      out.write(
          ("HTTP/1.1 "
                  + status
                  + " X\r\nContent-Type: "
                  + contentType
                  + "\r\nTransfer-Encoding: chunked\r\n\r\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    @Override
    public void chunk(String piece) throws IOException {
      byte[] b = piece.getBytes(StandardCharsets.UTF_8);
      out.write((Integer.toHexString(b.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.write(b);
      out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    @Override
    public void end() throws IOException {
      out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    @Override
    public void cut() {
      cut = true;
      closeAbruptly(socket);
    }

    @Override
    public boolean peerClosed() {
      try {
        socket.setSoTimeout(1);
        return in.read() < 0;
      } catch (java.net.SocketTimeoutException e) {
        return false;
      } catch (IOException e) {
        return true;
      } finally {
        try {
          socket.setSoTimeout(0);
        } catch (IOException ignored) {
          // closed
        }
      }
    }
  }
}
