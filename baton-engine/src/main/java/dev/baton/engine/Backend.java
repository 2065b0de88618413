package dev.baton.engine;

import dev.baton.engine.cpu.CpuBackend;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.util.List;

/**
 * Where the compute runs. A backend turns a model's weights into a {@link ModelRunner}; the
 * scheduler only ever sees the runner, and the model code (GGUF reading, configs) knows nothing of
 * backends, so a GPU backend (CUDA through the FFM API) slots in beside {@link CpuBackend} as one
 * more implementation chosen by name.
 */
public interface Backend {

  /** Stable name ({@code cpu}, later {@code cuda}). */
  String name();

  /** True when this backend can run on this machine. */
  boolean available();

  /**
   * Builds a runner over {@code weights}, which must stay valid (their file open) while it lives.
   */
  ModelRunner createRunner(LlamaConfig config, LlamaWeights weights, RunnerOptions options);

  /** The backends compiled in, preferred first. */
  static List<Backend> all() {
    return List.of(new CpuBackend());
  }

  /** The backend called {@code name}; an unknown name is an error listing the known ones. */
  static Backend byName(String name) {
    for (Backend b : all()) {
      if (b.name().equals(name)) {
        if (!b.available()) {
          throw new IllegalArgumentException("backend '" + name + "' is not available here");
        }
        return b;
      }
    }
    throw new IllegalArgumentException(
        "unknown backend '"
            + name
            + "' (known: "
            + String.join(", ", all().stream().map(Backend::name).toList())
            + ")");
  }
}
