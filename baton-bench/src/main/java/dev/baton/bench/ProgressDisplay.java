package dev.baton.bench;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A live progress bar on stderr: requests done, in flight, errors and the current streamed tokens
 * per second (chunks over the last second). Only shown on a terminal.
 */
public final class ProgressDisplay implements AutoCloseable {

  private final ProgressBar bar;
  private final Thread ticker;
  private final LiveStats stats;

  private ProgressDisplay(LiveStats stats, long total, PrintStream out, String task) {
    this.stats = stats;
    this.bar =
        new ProgressBarBuilder()
            .setTaskName(task)
            .setInitialMax(total)
            .setStyle(ProgressBarStyle.ASCII)
            .setConsumer(new ConsoleProgressBarConsumer(out))
            .setUpdateIntervalMillis(250)
            .showSpeed()
            .setUnit(" req", 1)
            .continuousUpdate()
            .build();
    this.ticker = Thread.ofVirtual().name("bench-progress").start(this::tick);
  }

  /**
   * A display for a run of {@code total} requests ({@code -1} when unknown), or null when disabled
   * or stderr is no terminal.
   */
  public static ProgressDisplay startIfTerminal(
      LiveStats stats, long total, boolean enabled, String task) {
    java.io.Console console = System.console();
    if (!enabled || console == null || !console.isTerminal()) {
      return null;
    }
    return new ProgressDisplay(stats, total, System.err, task);
  }

  private void tick() {
    long lastChunks = stats.chunks();
    long lastTime = System.nanoTime();
    double rate = 0;
    try {
      while (!Thread.currentThread().isInterrupted()) {
        Thread.sleep(Duration.ofMillis(250));
        long now = System.nanoTime();
        long chunks = stats.chunks();
        double instant = (chunks - lastChunks) / ((now - lastTime) / 1e9);
        rate = rate == 0 ? instant : 0.7 * rate + 0.3 * instant; // smooth over about a second
        lastChunks = chunks;
        lastTime = now;
        show(rate);
      }
    } catch (InterruptedException e) {
      // closing
    }
  }

  private void show(double tokensPerSecond) {
    bar.stepTo(stats.done());
    bar.setExtraMessage(
        String.format(
            Locale.ROOT,
            " | in flight %d | errors %d | %.0f tok/s",
            stats.inFlight(),
            stats.failed(),
            tokensPerSecond));
  }

  @Override
  public void close() {
    ticker.interrupt();
    try {
      ticker.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    show(0);
    bar.close();
  }
}
