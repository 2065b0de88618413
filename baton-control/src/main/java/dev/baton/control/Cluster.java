package dev.baton.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.Role;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What the {@code baton up|status|scale|down} commands do, as a library: bring a cluster up
 * (detached supervisor, or in the foreground), find it again through its run directory, and talk to
 * its supervisor's control API.
 */
public final class Cluster {

  private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(10);
  private static final List<String> SUPERVISOR_JVM_FLAGS =
      List.of(
          "-Xmx256m",
          "-XX:TieredStopAtLevel=1",
          "-Djava.util.logging.SimpleFormatter.format=%1$tF %1$tT %4$s %5$s%6$s%n");

  private Cluster() {}

  /** Result of {@code up}: where the gateway listens and what happened. */
  public record UpResult(String name, String gatewayUrl, Path runDir, String message) {}

  /**
   * Brings the spec up under {@code name} (or the spec's name, or "default"). When that cluster
   * already runs, the spec is applied as a rolling update instead. With {@code foreground} this
   * call blocks, supervising, until the cluster is stopped.
   */
  public static UpResult up(
      String specText, String source, String name, boolean foreground, PrintStream out)
      throws IOException, InterruptedException {
    return up(specText, source, name, foreground, out, (spec, model) -> {});
  }

  /**
   * A check of the parsed spec and the resolved model file that runs before anything starts or is
   * written (the CLI checks worker flags, KV and gateway configs, the model file); it throws to
   * refuse.
   */
  @FunctionalInterface
  public interface Preflight {
    void check(ClusterSpec spec, String model);
  }

  /** {@link #up} with a {@link Preflight} check before any process starts. */
  public static UpResult up(
      String specText,
      String source,
      String name,
      boolean foreground,
      PrintStream out,
      Preflight preflight)
      throws IOException, InterruptedException {
    ClusterSpec spec = SpecParser.parse(specText, source);
    if (spec.cpuPinning()) {
      CpuPinning.layout(spec); // more workers than cores, or no taskset: refused before anything
    }
    if (spec.autoscaler().pdRatio() != null && spec.autoscaler().pdRatio().stepModel() != null) {
      PdRatioTracker.StepTimes.read(Path.of(spec.autoscaler().pdRatio().stepModel()));
    }
    RunDirectory run =
        RunDirectory.forName(name != null ? name : spec.name() != null ? spec.name() : null);
    ClusterState existing = run.readState();
    if (existing != null && supervisorAlive(existing)) {
      if ("failed".equals(existing.phase()) || "stopping".equals(existing.phase())) {
        throw new IllegalStateException(
            "cluster '" + run.name() + "' is " + existing.phase() + "; run baton down first");
      }
      String nextModel = resolveModel(spec, out);
      preflight.check(spec, nextModel);
      out.println("cluster '" + run.name() + "' is running: applying the spec (rolling update)");
      ObjectNode body = Json.object();
      body.put("spec", specText);
      body.put("model", nextModel);
      JsonNode reply = call(run, existing, "POST", "/apply", body, Duration.ofMinutes(30));
      return new UpResult(
          run.name(), existing.gatewayUrl(), run.dir(), reply.path("message").asText());
    }
    if (existing != null) {
      cleanUpStale(run, existing, out);
    }
    String model = resolveModel(spec, out);
    preflight.check(spec, model); // before any process starts or any file of the run is written
    checkFixedPortsFree(spec);
    Files.createDirectories(run.logs());
    Files.writeString(run.specFile(), specText);
    run.secret(run.secretFile());
    if (foreground) {
      return runForeground(run, spec, model, out);
    }
    return startDetached(run, spec, model, out);
  }

  private static UpResult runForeground(
      RunDirectory run, ClusterSpec spec, String model, PrintStream out)
      throws IOException, InterruptedException {
    ClusterSupervisor supervisor =
        new ClusterSupervisor(
            run,
            spec,
            new LocalProcessLauncher(),
            Toolchain.current(),
            model,
            run.secret(run.secretFile()));
    Thread hook = new Thread(supervisor::close, "baton-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    supervisor.start();
    out.println(
        "cluster '" + run.name() + "' is up; gateway listening at " + supervisor.gatewayUrl());
    out.println("(foreground: Ctrl-C or `baton down --name " + run.name() + "` stops it)");
    out.flush();
    supervisor.awaitStopped();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is what stopped us
    }
    return new UpResult(run.name(), supervisor.gatewayUrl(), run.dir(), "stopped");
  }

  private static UpResult startDetached(
      RunDirectory run, ClusterSpec spec, String model, PrintStream out)
      throws IOException, InterruptedException {
    Toolchain toolchain = Toolchain.current();
    List<String> command = new ArrayList<>();
    // setsid: the supervisor gets its own session, so closing the terminal does not stop it.
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      command.add("/usr/bin/setsid");
    }
    command.addAll(toolchain.javaMain(SupervisorMain.class.getName(), SUPERVISOR_JVM_FLAGS));
    command.add(run.dir().toString());
    command.add(run.name());
    command.add(model);
    Files.deleteIfExists(run.stateFile());
    ProcessLauncher.Launched supervisor =
        new LocalProcessLauncher()
            .launch(
                new ProcessLauncher.LaunchRequest(
                    "supervisor", command, supervisorEnv(), run.supervisorLog()));
    out.println("starting cluster '" + run.name() + "' (" + spec.mode().wireName() + " mode)...");
    out.flush();
    Duration timeout =
        Duration.ofMillis(Math.round(spec.supervision().readyTimeoutSeconds() * 2000 + 30_000));
    Instant deadline = Instant.now().plus(timeout);
    while (Instant.now().isBefore(deadline)) {
      ClusterState state = readStateQuietly(run);
      if (state != null && "ready".equals(state.phase())) {
        String message =
            "cluster '" + run.name() + "' is up; gateway listening at " + state.gatewayUrl();
        out.println(message);
        return new UpResult(run.name(), state.gatewayUrl(), run.dir(), message);
      }
      if (state != null && "failed".equals(state.phase())) {
        waitExit(supervisor.pid(), Duration.ofSeconds(30));
        Files.deleteIfExists(run.stateFile());
        throw new IllegalStateException(
            "cluster '" + run.name() + "' failed to start: " + state.error());
      }
      if (!supervisor.isAlive()) {
        Files.deleteIfExists(run.stateFile());
        throw new IllegalStateException(
            "the cluster supervisor exited (code "
                + supervisor.exitCode()
                + ")"
                + Polling.logTail(run.supervisorLog()));
      }
      Thread.sleep(100);
    }
    supervisor.stop(Duration.ofSeconds(30));
    Files.deleteIfExists(run.stateFile());
    throw new IllegalStateException(
        "cluster '"
            + run.name()
            + "' was not ready within "
            + timeout.toSeconds()
            + " s; stopped it"
            + Polling.logTail(run.supervisorLog()));
  }

  /**
   * With the system property {@code baton.exitWithParent=true} (set by tests) the supervisor stops
   * its cluster when this JVM exits, so a killed test run leaves nothing behind.
   */
  private static Map<String, String> supervisorEnv() {
    return Boolean.getBoolean("baton.exitWithParent")
        ? Map.of(SupervisorMain.EXIT_WITH_PID, Long.toString(ProcessHandle.current().pid()))
        : Map.of();
  }

  /** The live status; throws when no such cluster runs. */
  public static StatusView status(String name) throws IOException {
    RunDirectory run = RunDirectory.forName(name);
    ClusterState state = requireRunning(run);
    JsonNode reply = call(run, state, "GET", "/status", null, CONTROL_TIMEOUT);
    return Json.MAPPER.treeToValue(reply, StatusView.class);
  }

  /** Scales a pool role (pool mode, or the colocated pool) and waits until done. */
  public static String scaleRole(String name, Role role, int replicas) throws IOException {
    RunDirectory run = RunDirectory.forName(name);
    ObjectNode body = Json.object();
    body.put("role", role.wireName());
    body.put("replicas", replicas);
    return call(run, requireRunning(run), "POST", "/scale", body, Duration.ofMinutes(10))
        .path("message")
        .asText();
  }

  /** Scales replica mode's groups and waits until done. */
  public static String scaleGroups(String name, int groups) throws IOException {
    RunDirectory run = RunDirectory.forName(name);
    ObjectNode body = Json.object();
    body.put("groups", groups);
    return call(run, requireRunning(run), "POST", "/scale", body, Duration.ofMinutes(10))
        .path("message")
        .asText();
  }

  /**
   * Stops the cluster and waits until every process is gone; returns what it did. A supervisor that
   * does not answer is killed along with the processes recorded in the run directory.
   */
  public static String down(String name) throws IOException, InterruptedException {
    RunDirectory run = RunDirectory.forName(name);
    ClusterState state = run.readState();
    if (state == null) {
      return "no cluster '" + run.name() + "' is running";
    }
    if (supervisorAlive(state)) {
      try {
        call(run, state, "POST", "/down", null, CONTROL_TIMEOUT);
        if (waitExit(state.supervisorPid(), Duration.ofSeconds(90))) {
          Files.deleteIfExists(run.stateFile());
          return "cluster '" + run.name() + "' stopped";
        }
      } catch (IOException | RuntimeException e) {
        // fall through to killing what the state lists
      }
    }
    ClusterState latest = Optional.ofNullable(readStateQuietly(run)).orElse(state);
    int killed = killRecorded(latest);
    Files.deleteIfExists(run.stateFile());
    return "cluster '"
        + run.name()
        + "' stopped (supervisor did not answer; killed "
        + killed
        + " process(es))";
  }

  /** Every process a cluster's state lists (supervisor, gateway, workers) that is still alive. */
  public static List<Long> livePids(ClusterState state) {
    List<Long> pids = new ArrayList<>();
    LocalProcessLauncher backend = new LocalProcessLauncher();
    if (backend.adopt(state.supervisorPid(), state.supervisorStarted()) != null) {
      pids.add(state.supervisorPid());
    }
    if (state.gateway() != null
        && backend.adopt(state.gateway().pid(), state.gateway().started()) != null) {
      pids.add(state.gateway().pid());
    }
    for (ClusterState.WorkerState w : state.workers()) {
      if (w.pid() > 0 && backend.adopt(w.pid(), w.started()) != null) {
        pids.add(w.pid());
      }
    }
    return pids;
  }

  private static int killRecorded(ClusterState state) {
    LocalProcessLauncher backend = new LocalProcessLauncher();
    int killed = 0;
    // The supervisor first, with SIGTERM: its shutdown hook stops the processes it started,
    // including any not yet written to the state; then its whole tree is killed.
    ProcessLauncher.Launched supervisor =
        backend.adopt(state.supervisorPid(), state.supervisorStarted());
    if (supervisor != null && supervisor.isAlive()) {
      supervisor.stop(Duration.ofSeconds(20));
      killed++;
    }
    List<ProcessLauncher.Launched> all = new ArrayList<>();
    if (state.gateway() != null) {
      all.add(backend.adopt(state.gateway().pid(), state.gateway().started()));
    }
    for (ClusterState.WorkerState w : state.workers()) {
      if (w.pid() > 0) {
        all.add(backend.adopt(w.pid(), w.started()));
      }
    }
    for (ProcessLauncher.Launched p : all) {
      if (p != null && p.isAlive()) {
        p.kill();
        killed++;
      }
    }
    return killed;
  }

  private static void cleanUpStale(RunDirectory run, ClusterState state, PrintStream out)
      throws IOException {
    int killed = killRecorded(state);
    if (killed > 0) {
      out.println("cleaned up " + killed + " leftover process(es) of cluster '" + run.name() + "'");
    }
    Files.deleteIfExists(run.stateFile());
  }

  private static ClusterState requireRunning(RunDirectory run) throws IOException {
    ClusterState state = run.readState();
    if (state == null) {
      throw new IllegalStateException(
          "no cluster '" + run.name() + "' is running (start one with baton up)");
    }
    if (!supervisorAlive(state)) {
      throw new IllegalStateException(
          "cluster '"
              + run.name()
              + "' lost its supervisor (pid "
              + state.supervisorPid()
              + "); run baton down --name "
              + run.name()
              + " to clean up");
    }
    return state;
  }

  private static boolean supervisorAlive(ClusterState state) {
    return new LocalProcessLauncher().adopt(state.supervisorPid(), state.supervisorStarted())
        != null;
  }

  private static ClusterState readStateQuietly(RunDirectory run) {
    try {
      return run.readState();
    } catch (IOException e) {
      return null;
    }
  }

  private static boolean waitExit(long pid, Duration timeout) throws InterruptedException {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty()) {
      return true;
    }
    try {
      handle.get().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return !handle.get().isAlive();
    }
  }

  private static JsonNode call(
      RunDirectory run,
      ClusterState state,
      String method,
      String path,
      JsonNode body,
      Duration timeout)
      throws IOException {
    String token = Files.readString(run.tokenFile()).strip();
    Http.Reply reply =
        Http.send(
            method,
            "http://127.0.0.1:" + state.controlPort() + path,
            body == null ? null : Json.write(body),
            timeout,
            Map.of("Authorization", "Bearer " + token));
    JsonNode json;
    try {
      json = Json.parse(reply.body());
    } catch (IllegalArgumentException e) {
      throw new IOException("supervisor answered HTTP " + reply.status() + ": " + reply.body(), e);
    }
    if (!reply.ok()) {
      String message = json.path("error").asText("HTTP " + reply.status());
      if (reply.status() == 400) {
        throw new IllegalArgumentException(message);
      }
      throw new IllegalStateException(message);
    }
    return json;
  }

  /** The model file to serve: the spec's path, or a random model created once and reused. */
  static String resolveModel(ClusterSpec spec, PrintStream out)
      throws IOException, InterruptedException {
    String preset = spec.randomPreset();
    if (preset == null) {
      Path path = Path.of(spec.model()).toAbsolutePath().normalize();
      if (!Files.isRegularFile(path)) {
        throw new IllegalArgumentException(
            "model: file not found: " + path + " (or use model: random:tiny)");
      }
      return path.toString();
    }
    Path file = RunDirectory.batonHome().resolve("models").resolve("random-" + preset + ".gguf");
    if (Files.isRegularFile(file)) {
      return file.toString();
    }
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp" + ProcessHandle.current().pid());
    out.println("creating random model (" + preset + ") at " + file);
    out.flush();
    List<String> command = new ArrayList<>(Toolchain.current().baton());
    command.addAll(List.of("model", "random", "--preset", preset, "--out", tmp.toString()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes());
    int code = process.waitFor();
    if (code != 0 || !Files.isRegularFile(tmp)) {
      Files.deleteIfExists(tmp);
      throw new IllegalStateException(
          "could not create the random model (baton model random exited "
              + code
              + "): "
              + output.strip());
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return file.toString();
  }

  /** Fixed ports in the spec must be free before anything starts. */
  static void checkFixedPortsFree(ClusterSpec spec) {
    List<String> busy = new ArrayList<>();
    if (spec.gateway().port() != null && !PortPicker.bindable(spec.host(), spec.gateway().port())) {
      busy.add("gateway.port " + spec.gateway().port());
    }
    for (Map.Entry<Role, ClusterSpec.RoleSpec> e : spec.roles().entrySet()) {
      Integer base = e.getValue().port();
      if (base == null) {
        continue;
      }
      int count = spec.initialWorkers(e.getKey());
      for (int p = base; p < base + count; p++) {
        if (!PortPicker.bindable(spec.host(), p)) {
          busy.add("roles." + e.getKey().wireName() + ".port range: " + p);
        }
      }
    }
    if (!busy.isEmpty()) {
      throw new IllegalArgumentException(
          "ports already in use on " + spec.host() + ": " + String.join(", ", busy));
    }
  }
}
