package dev.baton.cuda;

import dev.baton.engine.Backend;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;

/**
 * The CUDA backend ({@code --backend cuda}): found by {@link java.util.ServiceLoader}, preferred by
 * {@code --backend auto} when a GPU is there. The weights' and GEMM inputs' number type comes from
 * {@code BATON_CUDA_COMPUTE} ({@link Precision}: f16 by default, bf16, or fp32 for exactness checks
 * against the CPU).
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
        device, config, weights, options, Precision.parse(System.getenv("BATON_CUDA_COMPUTE")));
  }
}
