package dev.baton.cuda;

import java.util.Locale;

/**
 * The number type of the weights and of every GEMM input on the GPU ({@code BATON_CUDA_COMPUTE}).
 * GEMMs accumulate in fp32 and the residual stream is fp32 in every mode.
 */
public enum Precision {
  /** bfloat16: the range of fp32, 8 mantissa bits. */
  BF16(Cublas.R_16BF, 2, null),
  /**
   * IEEE half: 11 mantissa bits, so Q8_0 weights (int8 x an f16 scale) keep nearly all their bits;
   * range 65504, ample for Llama-family activations after RMSNorm.
   */
  F16(Cublas.R_16F, 2, "-DACT_F16"),
  /** fp32 throughout, no TF32: matches the CPU backend to rounding (exactness checks). */
  FP32(Cublas.R_32F, 4, "-DACT_F32");

  /** The cudaDataType cuBLAS is given. */
  final int cudaType;

  final int bytes;

  /** The kernels' compile switch, or null. */
  final String define;

  Precision(int cudaType, int bytes, String define) {
    this.cudaType = cudaType;
    this.bytes = bytes;
    this.define = define;
  }

  /** The default: see docs/GPU.md for the measurement that chose it. */
  public static final Precision DEFAULT = F16;

  /** {@code BATON_CUDA_COMPUTE}: null or blank is {@link #DEFAULT}; an unknown name is an error. */
  public static Precision parse(String value) {
    if (value == null || value.isBlank()) {
      return DEFAULT;
    }
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "bf16", "bfloat16" -> BF16;
      case "f16", "fp16", "float16", "half" -> F16;
      case "fp32", "f32", "float32" -> FP32;
      default ->
          throw new IllegalArgumentException(
              "BATON_CUDA_COMPUTE must be bf16, f16 or fp32, got '" + value + "'");
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
