package dev.baton.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaLibrariesTest {

  @TempDir Path dir;

  private Path touch(Path folder, String name) throws IOException {
    Files.createDirectories(folder);
    return Files.writeString(folder.resolve(name), "");
  }

  private void fullSet(Path folder, String version) throws IOException {
    touch(folder, "libcuda.so.1");
    touch(folder, "libcublas.so." + version);
    touch(folder, "libcublasLt.so." + version);
    touch(folder, "libnvrtc.so." + version);
    touch(folder, "libnvrtc-builtins.so." + version + ".0");
  }

  @Test
  void findsEveryLibraryAndKeepsCublasApartFromCublasLt() throws IOException {
    Path lib = dir.resolve("lib64");
    fullSet(lib, "13");
    CudaLibraries libs = CudaLibraries.discover(Map.of(), List.of(lib));
    assertThat(libs.cuda()).isEqualTo(lib.resolve("libcuda.so.1"));
    assertThat(libs.cublas()).isEqualTo(lib.resolve("libcublas.so.13"));
    assertThat(libs.cublasLt()).isEqualTo(lib.resolve("libcublasLt.so.13"));
    assertThat(libs.nvrtc()).isEqualTo(lib.resolve("libnvrtc.so.13"));
    assertThat(libs.nvrtcBuiltins()).contains(lib.resolve("libnvrtc-builtins.so.13.0"));
  }

  @Test
  void theFirstFolderWinsAndInsideItTheHighestVersion() throws IOException {
    Path first = dir.resolve("first");
    Path second = dir.resolve("second");
    fullSet(second, "13");
    fullSet(first, "12");
    touch(first, "libcublas.so.12.10.1");
    touch(first, "libcublas.so.12.9");
    assertThat(CudaLibraries.discover(Map.of(), List.of(first, second)).cublas())
        .isEqualTo(first.resolve("libcublas.so.12.10.1"));
  }

  @Test
  void batonCudaLibDirComesFirstThenTheUsualPlacesAndTheWheels() throws IOException {
    Path venv = dir.resolve("venv");
    Path wheelLib = venv.resolve("lib/python3.12/site-packages/nvidia/cu13/lib");
    Files.createDirectories(wheelLib);
    List<Path> path =
        CudaLibraries.searchPath(
            Map.of(
                "BATON_CUDA_LIB_DIR", "/opt/a:/opt/b",
                "LD_LIBRARY_PATH", "/opt/ld",
                "VIRTUAL_ENV", venv.toString()));
    assertThat(path.subList(0, 3))
        .containsExactly(Path.of("/opt/a"), Path.of("/opt/b"), Path.of("/opt/ld"));
    assertThat(path).contains(Path.of("/usr/local/cuda/lib64"), wheelLib);
    assertThat(path.indexOf(Path.of("/usr/local/cuda/lib64"))).isLessThan(path.indexOf(wheelLib));
  }

  @Test
  void whatIsMissingIsOneLineNamingItAndTheWayOut() throws IOException {
    Path lib = dir.resolve("partial");
    touch(lib, "libcublas.so.13");
    touch(lib, "libcublasLt.so.13");
    assertThatThrownBy(() -> CudaLibraries.discover(Map.of(), List.of(lib)))
        .isInstanceOf(CudaException.class)
        .hasMessageStartingWith(
            "no CUDA GPU support here: libcuda.so.1 (the NVIDIA driver), libnvrtc not found")
        .hasMessageContaining("BATON_CUDA_LIB_DIR")
        .hasMessageNotContaining("\n");
    assertThatThrownBy(
            () ->
                CudaLibraries.discover(Map.of("BATON_CUDA_LIB_DIR", lib.toString()), List.of(lib)))
        .hasMessageEndingWith("BATON_CUDA_LIB_DIR=" + lib + " does not hold them");
  }

  @Test
  void aNameThatOnlyStartsLikeALibraryIsNotIt() throws IOException {
    Path lib = dir.resolve("odd");
    touch(lib, "libcuda.so1");
    touch(lib, "libcuda.so.");
    assertThat(CudaLibraries.find(List.of(lib), "libcuda.so")).isEmpty();
  }
}
