package dev.baton.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

/** Sends one HTTP POST and hands back the status and a body stream read as it arrives. */
interface HttpTransport extends AutoCloseable {

  /** An answer whose body must be closed (which frees the connection for reuse). */
  interface Response extends AutoCloseable {
    int status();

    InputStream body();

    @Override
    void close() throws IOException;
  }

  Response post(URI uri, Map<String, String> headers, byte[] body, Duration timeout)
      throws IOException, InterruptedException;

  @Override
  void close();
}
