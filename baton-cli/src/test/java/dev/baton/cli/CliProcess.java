package dev.baton.cli;

import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What every integration test that starts the built {@code baton} CLI as a process needs: the
 * command line (this JVM, Baton's flags, the built jar), the HTTP port the process announces, and
 * stopping its whole process tree.
 */
final class CliProcess {

  private static final Pattern LISTENING = Pattern.compile("on http://[^:]+:(\\d+)");

  private CliProcess() {}

  /** {@code java <Baton flags> <jvmFlags> -cp <built CLI> dev.baton.cli.Main <cliArgs>}. */
  static List<String> command(List<String> jvmFlags, List<String> cliArgs) {
    Path moduleDir = Path.of("").toAbsolutePath();
    Path jar = moduleDir.resolve("target/baton-cli.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("build baton-cli first (mvn package): no " + jar);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(
        List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
    cmd.add("-Xss4m");
    cmd.addAll(jvmFlags);
    cmd.addAll(
        List.of(
            "-cp",
            jar + java.io.File.pathSeparator + moduleDir.resolve("target/lib") + "/*",
            "dev.baton.cli.Main"));
    cmd.addAll(cliArgs);
    return cmd;
  }

  /**
   * Copies the process's output into {@code output} on a virtual thread; the future completes with
   * the port of its first "listening on http://host:PORT" line, or fails when the process exits
   * without one.
   */
  static CompletableFuture<Integer> watchForPort(Process process, StringBuffer output) {
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                  output.append(line).append('\n');
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    port.complete(Integer.parseInt(m.group(1)));
                  }
                }
              } catch (IOException e) {
                // the process is gone
              }
              port.completeExceptionally(new IllegalStateException("exited:\n" + output));
            });
    return port;
  }

  /**
   * Waits for a {@code baton serve} (or gateway) process to announce its port (2 minutes) and then
   * to answer {@code GET /health} with 200 (within {@code healthTimeout}); stops it and fails with
   * its output if either does not happen. Returns the port.
   */
  static int awaitServing(Process process, StringBuffer output, Duration healthTimeout) {
    CompletableFuture<Integer> portFound = watchForPort(process, output);
    int port;
    try {
      port = portFound.get(120, TimeUnit.SECONDS);
    } catch (Exception e) {
      stop(process);
      throw new IllegalStateException("baton serve did not start:\n" + output, e);
    }
    HttpClient http = HttpClient.newHttpClient();
    URI health = URI.create("http://127.0.0.1:" + port + "/health");
    await()
        .atMost(healthTimeout)
        .ignoreExceptions()
        .until(
            () ->
                http.send(
                            HttpRequest.newBuilder(health).build(),
                            HttpResponse.BodyHandlers.discarding())
                        .statusCode()
                    == 200);
    return port;
  }

  /** Stops the process and its children: SIGTERM first, SIGKILL after 10 s. */
  static void stop(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
