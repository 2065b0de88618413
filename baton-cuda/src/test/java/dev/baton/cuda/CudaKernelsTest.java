package dev.baton.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel source checked without a GPU: every kernel the runner launches is declared, and where
 * NVRTC is installed (it runs on the CPU) the source compiles for Hopper in all six variants, and
 * the compile cache is used the second time.
 */
class CudaKernelsTest {

  @TempDir Path cache;

  @Test
  void everyLaunchedKernelIsAnExternCGlobalInTheSource() {
    String source = CudaKernels.source();
    for (String name : CudaKernels.NAMES) {
      assertThat(source).contains("extern \"C\" __global__ void " + name + "(");
    }
    assertThat(source).doesNotContain("#include");
  }

  @Test
  void theAttentionLimitsMatchTheSource() {
    String source = CudaKernels.source();
    assertThat(source)
        .contains("#define ATT_THREADS " + CudaKernels.ATTENTION_THREADS)
        .contains("#define ATT_TILE " + CudaKernels.ATTENTION_TILE)
        .contains("#define ATT_MAX_GROUP " + CudaKernels.ATTENTION_MAX_GROUP)
        .contains("#define GEMV_MAX_N " + CudaKernels.GEMV_MAX_N)
        .contains("#define FA_ROWS " + CudaKernels.FLASH_ROWS)
        .contains("#define NORM_REGS " + CudaKernels.NORM_REGS)
        .contains("#define FA_THREADS " + CudaKernels.FLASH_THREADS)
        .contains(
            "#define ATT_MAX_ACC "
                + CudaKernels.ATTENTION_MAX_WIDTH / CudaKernels.ATTENTION_THREADS);
  }

  @Test
  void theCacheKeyCoversSourceOptionsAndCompilerVersion() {
    String k = Nvrtc.cacheKey("src", List.of("-DA"), "13.0");
    assertThat(k).hasSize(64);
    assertThat(Nvrtc.cacheKey("src", List.of("-DA"), "13.0")).isEqualTo(k);
    assertThat(Nvrtc.cacheKey("src2", List.of("-DA"), "13.0")).isNotEqualTo(k);
    assertThat(Nvrtc.cacheKey("src", List.of("-DB"), "13.0")).isNotEqualTo(k);
    assertThat(Nvrtc.cacheKey("src", List.of("-DA"), "13.1")).isNotEqualTo(k);
  }

  @Test
  void theSourceCompilesWithNvrtcForHopperInEveryVariant() throws Exception {
    List<Path> path = CudaLibraries.searchPath(System.getenv());
    Optional<Path> nvrtcLib = CudaLibraries.find(path, "libnvrtc.so");
    assumeTrue(nvrtcLib.isPresent(), "NVRTC is not installed here");
    Nvrtc nvrtc = Nvrtc.load(nvrtcLib.get(), CudaLibraries.find(path, "libnvrtc-builtins.so"));
    for (Precision precision : Precision.values()) {
      for (boolean f16 : new boolean[] {false, true}) {
        List<String> options = CudaKernels.options(9, 0, precision, f16);
        byte[] cubin = nvrtc.compile(CudaKernels.SOURCE, CudaKernels.source(), options, cache);
        assertThat(cubin.length).as("cubin for " + options).isGreaterThan(1000);
        // ELF: a cubin, not PTX text.
        assertThat(new String(cubin, 1, 3, java.nio.charset.StandardCharsets.US_ASCII))
            .isEqualTo("ELF");
      }
    }
    try (var files = Files.list(cache)) {
      assertThat(files.filter(p -> p.toString().endsWith(".cubin")).count()).isEqualTo(6);
    }
    // Second compile of one variant: the cached image, byte for byte.
    List<String> options = CudaKernels.options(9, 0, Precision.F16, true);
    Path cached =
        cache.resolve(Nvrtc.cacheKey(CudaKernels.source(), options, nvrtc.version()) + ".cubin");
    Files.write(cached, new byte[] {1, 2, 3});
    assertThat(nvrtc.compile(CudaKernels.SOURCE, CudaKernels.source(), options, cache))
        .containsExactly(1, 2, 3);
  }
}
