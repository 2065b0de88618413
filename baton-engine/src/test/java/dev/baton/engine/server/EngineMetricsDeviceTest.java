package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class EngineMetricsDeviceTest {

  /** A runner on the host: the interface's default says it has no device. */
  static class OnTheHost implements ModelRunner {
    @Override
    public List<float[]> forward(List<SeqChunk> batch) {
      throw new UnsupportedOperationException("not computing here");
    }

    @Override
    public int vocabSize() {
      return 4;
    }

    @Override
    public int contextLength() {
      return 16;
    }

    @Override
    public KvBlockPool kvPool() {
      return null;
    }

    @Override
    public void close() {}
  }

  /** A runner that reports a device whose usage moves between scrapes. */
  static final class OnADevice extends OnTheHost {
    long used = 3L << 30;

    @Override
    public DeviceMemory deviceMemory() {
      return new DeviceMemory("cuda:1", used, 80L << 30);
    }
  }

  @Test
  void aRunnerOnADeviceExportsItsMemoryAndAHostRunnerNothing() {
    EngineMetrics metrics = new EngineMetrics("m");
    OnADevice runner = new OnADevice();
    metrics.bindRunner(runner);
    String text = new String(metrics.scrape(), StandardCharsets.UTF_8);
    assertThat(text)
        .contains("baton_gpu_memory_used_bytes{device=\"cuda:1\",model_name=\"m\"} 3.221225472E9")
        .contains(
            "baton_gpu_memory_total_bytes{device=\"cuda:1\",model_name=\"m\"} 8.589934592E10");
    runner.used = 5L << 30;
    assertThat(new String(metrics.scrape(), StandardCharsets.UTF_8))
        .contains("baton_gpu_memory_used_bytes{device=\"cuda:1\",model_name=\"m\"} 5.36870912E9");

    EngineMetrics host = new EngineMetrics("m");
    host.bindRunner(new OnTheHost());
    assertThat(new String(host.scrape(), StandardCharsets.UTF_8)).doesNotContain("gpu_memory");
  }
}
