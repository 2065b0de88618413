package dev.baton.control;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs cluster processes as local child processes: stdin from /dev/null, stdout and stderr appended
 * to a log file, and stop/kill applied to the whole process tree so an external engine's helpers
 * die with it.
 */
public final class LocalProcessLauncher implements ProcessLauncher {

  @Override
  public Launched launch(LaunchRequest request) throws IOException {
    Files.createDirectories(request.logFile().getParent());
    ProcessBuilder builder = new ProcessBuilder(request.command());
    builder.environment().putAll(request.env());
    builder.redirectErrorStream(true);
    builder.redirectOutput(ProcessBuilder.Redirect.appendTo(request.logFile().toFile()));
    builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    try {
      Process process = builder.start();
      return new LocalProcess(process.toHandle(), process);
    } catch (IOException e) {
      throw new IOException(
          "cannot start "
              + request.id()
              + " ("
              + request.command().getFirst()
              + "): "
              + e.getMessage(),
          e);
    }
  }

  @Override
  public Launched adopt(long pid, Instant started) {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty() || !handle.get().isAlive()) {
      return null;
    }
    Optional<Instant> actualStart = handle.get().info().startInstant();
    if (started != null
        && actualStart.isPresent()
        && Math.abs(Duration.between(actualStart.get(), started).toMillis()) > 2000) {
      return null; // the pid now belongs to another process
    }
    return new LocalProcess(handle.get(), null);
  }

  /** Kills a process tree: children first, so none is re-parented and left behind. */
  static void killTree(ProcessHandle root) {
    List<ProcessHandle> descendants = root.descendants().toList();
    root.destroyForcibly();
    descendants.forEach(ProcessHandle::destroyForcibly);
  }

  private static final class LocalProcess implements Launched {
    private final ProcessHandle handle;
    private final Process process; // null for an adopted process (not our child)

    LocalProcess(ProcessHandle handle, Process process) {
      this.handle = handle;
      this.process = process;
    }

    @Override
    public long pid() {
      return handle.pid();
    }

    @Override
    public Instant started() {
      return handle.info().startInstant().orElse(Instant.now());
    }

    @Override
    public boolean isAlive() {
      return handle.isAlive();
    }

    @Override
    public Integer exitCode() {
      if (process == null) {
        return handle.isAlive() ? null : -1;
      }
      return process.isAlive() ? null : process.exitValue();
    }

    @Override
    public void stop(Duration grace) {
      List<ProcessHandle> descendants = handle.descendants().toList();
      handle.destroy();
      descendants.forEach(ProcessHandle::destroy);
      try {
        handle.onExit().get(Math.max(grace.toMillis(), 1), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception timeoutOrFailure) {
        // did not stop in time: force below
      }
      handle.destroyForcibly();
      descendants.forEach(ProcessHandle::destroyForcibly);
      waitGone(handle);
      descendants.forEach(LocalProcess::waitGone);
    }

    @Override
    public void kill() {
      List<ProcessHandle> descendants = handle.descendants().toList();
      handle.destroyForcibly();
      descendants.forEach(ProcessHandle::destroyForcibly);
      waitGone(handle);
      descendants.forEach(LocalProcess::waitGone);
    }

    private static void waitGone(ProcessHandle h) {
      try {
        h.onExit().get(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception e) {
        // not our child or still exiting; nothing more to do
      }
    }
  }
}
