package dev.baton.control;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Waiting for processes: polling with backoff, quiet sleeps, and log tails for error messages. */
final class Polling {

  private Polling() {}

  /** Polls until {@code done}, giving up when {@code keepWaiting} turns false or time is up. */
  static boolean waitFor(BooleanSupplier done, BooleanSupplier keepWaiting, Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    long pause = 50;
    while (Instant.now().isBefore(deadline)) {
      if (done.getAsBoolean()) {
        return true;
      }
      if (!keepWaiting.getAsBoolean()) {
        return false;
      }
      sleepQuietly(Duration.ofMillis(pause));
      pause = Math.min(pause * 2, 500);
    }
    return done.getAsBoolean();
  }

  static void sleepQuietly(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The last lines of a log, for error messages that say why a process failed. */
  static String logTail(Path log) {
    try {
      if (!Files.isRegularFile(log)) {
        return "";
      }
      List<String> lines = Files.readAllLines(log);
      int from = Math.max(0, lines.size() - 12);
      return "\n    last lines of "
          + log
          + ":\n      "
          + String.join("\n      ", lines.subList(from, lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "";
    }
  }

  /** Seconds as a Duration (specs give fractional seconds). */
  static Duration seconds(double s) {
    return Duration.ofMillis(Math.round(s * 1000));
  }
}
