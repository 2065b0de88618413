package dev.baton.cuda;

import dev.baton.engine.Backend;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.util.Locale;

/**
 * The CUDA backend ({@code --backend cuda}): found by {@link java.util.ServiceLoader}, preferred by
 * {@code --backend auto} when a GPU is there. Compute precision comes from {@code
 * BATON_CUDA_COMPUTE}: {@code bf16} (default: bf16 weights and GEMM inputs, fp32 accumulation and
 * residual stream) or {@code fp32} (everything fp32, no TF32: for exactness checks against the
 * CPU).
 */
public final class CudaBackend implements Backend {

  private volatile String unavailable;

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int priority() {
    return 10;
  }

  /** True when the libraries load and at least one device answers; never throws. */
  @Override
  public boolean available() {
    try {
      CudaLibraries libs = CudaLibraries.discover();
      int count = CudaDriver.load(libs).deviceCount();
      if (count == 0) {
        unavailable = "no CUDA GPU support here: the driver reports no device";
        return false;
      }
      return true;
    } catch (CudaException | IllegalArgumentException | UnsatisfiedLinkError e) {
      unavailable = e.getMessage();
      return false;
    }
  }

  @Override
  public String unavailableReason() {
    String why = unavailable;
    return why != null ? why : "backend 'cuda' is not available here";
  }

  @Override
  public ModelRunner createRunner(LlamaConfig config, LlamaWeights weights, RunnerOptions options) {
    CudaDevice device = CudaDevice.open(options.device());
    return CudaRunner.create(
        device, config, weights, options, fp32Compute(System.getenv("BATON_CUDA_COMPUTE")));
  }

  /** {@code BATON_CUDA_COMPUTE}: null or bf16 is false, fp32 is true, anything else an error. */
  static boolean fp32Compute(String value) {
    if (value == null || value.isBlank()) {
      return false;
    }
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "bf16", "bfloat16" -> false;
      case "fp32", "f32", "float32" -> true;
      default ->
          throw new IllegalArgumentException(
              "BATON_CUDA_COMPUTE must be bf16 or fp32, got '" + value + "'");
    };
  }
}
