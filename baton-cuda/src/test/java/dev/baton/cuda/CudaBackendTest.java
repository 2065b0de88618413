package dev.baton.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.baton.engine.Backend;
import org.junit.jupiter.api.Test;

/** Runs where CI runs: without a GPU. */
class CudaBackendTest {

  @Test
  void theServiceLoaderFindsCudaBesideCpuAndAutoPrefersCuda() {
    assertThat(Backend.all()).extracting(Backend::name).containsExactly("cuda", "cpu");
  }

  @Test
  void withoutAGpuCudaFailsWithOneClearLineAndAutoFallsBackToTheCpu() {
    CudaBackend cuda = new CudaBackend();
    assumeFalse(cuda.available(), "this machine has a GPU");
    assertThatThrownBy(() -> Backend.byName("cuda"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("no CUDA GPU support here")
        .hasMessageNotContaining("\n");
    assertThat(Backend.auto().name()).isEqualTo("cpu");
  }

  @Test
  void computePrecisionComesFromTheEnvironment() {
    assertThat(Precision.parse(null)).isEqualTo(Precision.DEFAULT);
    assertThat(Precision.parse("bf16")).isEqualTo(Precision.BF16);
    assertThat(Precision.parse("half")).isEqualTo(Precision.F16);
    assertThat(Precision.parse("FP32")).isEqualTo(Precision.FP32);
    assertThatThrownBy(() -> Precision.parse("fp8"))
        .hasMessage("BATON_CUDA_COMPUTE must be bf16, f16 or fp32, got 'fp8'");
  }
}
