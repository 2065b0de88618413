package dev.baton.engine;

import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Where the compute runs. A backend turns a model's weights into a {@link ModelRunner}; the
 * scheduler only ever sees the runner, and the model code (GGUF reading, configs) knows nothing of
 * backends. Implementations are found with {@link ServiceLoader} ({@code
 * META-INF/services/dev.baton.engine.Backend}), so this interface names none of them and a GPU
 * backend in its own jar (CUDA through the FFM API) slots in beside the CPU one by name.
 */
public interface Backend {

  /** Stable name ({@code cpu}, {@code cuda}). */
  String name();

  /** Which backend {@code auto} prefers when several are available: higher first. */
  default int priority() {
    return 0;
  }

  /** True when this backend can run on this machine. */
  boolean available();

  /** Why {@link #available} is false, in one line (a missing library, no device). */
  default String unavailableReason() {
    return "backend '" + name() + "' is not available here";
  }

  /**
   * Builds a runner over {@code weights}, which must stay valid (their file open) while it lives.
   */
  ModelRunner createRunner(LlamaConfig config, LlamaWeights weights, RunnerOptions options);

  /** The backends on the class path, preferred first. */
  static List<Backend> all() {
    return ServiceLoader.load(Backend.class).stream()
        .map(ServiceLoader.Provider::get)
        .sorted(Comparator.comparingInt(Backend::priority).reversed())
        .toList();
  }

  /** The most preferred available backend ({@code --backend auto}). */
  static Backend auto() {
    return all().stream()
        .filter(Backend::available)
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no compute backend is available"));
  }

  /** The backend called {@code name}; an unknown name is an error listing the known ones. */
  static Backend byName(String name) {
    if (name.equals("auto")) {
      return auto();
    }
    for (Backend b : all()) {
      if (b.name().equals(name)) {
        if (!b.available()) {
          throw new IllegalArgumentException(b.unavailableReason());
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
