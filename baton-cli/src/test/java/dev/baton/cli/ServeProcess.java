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
 * A real {@code baton serve} process for integration tests: the built CLI jar on a free loopback
 * port, output captured, destroyed (with its children) on {@link #close}.
 */
final class ServeProcess implements AutoCloseable {

  private static final Pattern LISTENING = Pattern.compile("on http://[^:]+:(\\d+)");

  private final Process process;
  private final StringBuffer output = new StringBuffer();
  private final int port;

  ServeProcess(Path model, String... extraArgs) throws IOException {
    Path moduleDir = Path.of("").toAbsolutePath();
    Path jar = moduleDir.resolve("target/baton-cli.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("build baton-cli first (mvn package): no " + jar);
    }
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBin);
    cmd.addAll(
        List.of(
            "--add-modules",
            "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "-Xss4m",
            "-cp",
            jar + java.io.File.pathSeparator + moduleDir.resolve("target/lib") + "/*",
            "dev.baton.cli.Main",
            "serve",
            "-m",
            model.toString(),
            "--port",
            "0",
            "--threads",
            "1"));
    cmd.addAll(List.of(extraArgs));
    process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    CompletableFuture<Integer> portFound = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  output.append(line).append('\n');
                  Matcher m = LISTENING.matcher(line);
                  if (m.find()) {
                    portFound.complete(Integer.parseInt(m.group(1)));
                  }
                }
              } catch (IOException e) {
                // process gone
              }
              portFound.completeExceptionally(
                  new IllegalStateException("baton serve exited:\n" + output));
            });
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
