package dev.baton.cli;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code baton serve} process for integration tests: the built CLI jar on a free loopback
 * port, output captured, destroyed (with its children) on {@link #close}.
 */
final class ServeProcess implements AutoCloseable {

  private final Process process;
  private final StringBuffer output = new StringBuffer();
  private final int port;

  ServeProcess(Path model, String... extraArgs) throws IOException {
    List<String> args =
        new ArrayList<>(List.of("serve", "-m", model.toString(), "--port", "0", "--threads", "1"));
    args.addAll(List.of(extraArgs));
    process =
        new ProcessBuilder(CliProcess.command(List.of(), args)).redirectErrorStream(true).start();
    CompletableFuture<Integer> portFound = CliProcess.watchForPort(process, output);
    try {
      port = portFound.get(120, TimeUnit.SECONDS);
    } catch (Exception e) {
      close();
      throw new IllegalStateException("baton serve did not start:\n" + output, e);
    }
    HttpClient http = HttpClient.newHttpClient();
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () ->
                http.send(
                            HttpRequest.newBuilder(URI.create(baseUrl() + "/health")).build(),
                            HttpResponse.BodyHandlers.discarding())
                        .statusCode()
                    == 200);
  }

  String baseUrl() {
    return "http://127.0.0.1:" + port;
  }

  String output() {
    return output.toString();
  }

  boolean alive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    CliProcess.stop(process);
  }
}
