package dev.baton.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
    port = CliProcess.awaitServing(process, output, Duration.ofSeconds(30));
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
