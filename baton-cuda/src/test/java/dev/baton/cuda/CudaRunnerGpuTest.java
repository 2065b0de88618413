package dev.baton.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.cuda.check.GpuCorrectness;
import dev.baton.engine.KvBlockPool;
import dev.baton.model.GgmlType;
import dev.baton.model.RandomModel;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA backend against the CPU backend on a GPU. Tagged {@code gpu}: surefire leaves it out (CI
 * has no GPU); {@code mvn -pl baton-cuda verify -DexcludedGroups= -Dgroups=gpu} runs it where there
 * is one, and {@code bin/gpu-check} runs the same checks ({@link dev.baton.cuda.check.GpuCheck}) on
 * a machine without Maven.
 */
@Tag("gpu")
class CudaRunnerGpuTest {

  @TempDir static Path dir;
  static Path model;
  static CudaDevice device;

  @BeforeAll
  static void setUp() {
    model = dir.resolve("small.gguf");
    RandomModel.write(
        model, RandomModel.Preset.SMALL.spec.withLlama3RopeScaling(true), 3, GgmlType.F32);
    device = CudaDevice.open(0);
  }

  @Test
  void teacherForcedTopOneAgreesWithTheCpuOn99PercentOfPositions() {
    GpuCorrectness.TeacherForced r =
        GpuCorrectness.teacherForced(device, model, 1024, Precision.DEFAULT, KvBlockPool.Dtype.F16);
    assertThat(r.top1Agreement()).isGreaterThanOrEqualTo(0.99);
  }

  @Test
  void inFp32GreedyTokensEqualTheCpusAndTheKvBytesMatch() {
    int[][] t = GpuCorrectness.greedy(device, model, 16, 32, Precision.FP32);
    assertThat(t[1]).containsExactly(t[0]);
    GpuCorrectness.TeacherForced r =
        GpuCorrectness.teacherForced(device, model, 256, Precision.FP32, KvBlockPool.Dtype.F32);
    assertThat(r.maxAbsKvDiff()).isLessThan(1e-4);
  }

  @Test
  void theGemmPrefillPathAgreesWithTheCpu() {
    GpuCorrectness.TeacherForced r =
        GpuCorrectness.prefillThenDecode(device, model, Precision.FP32);
    assertThat(r.maxAbsLogitDiff()).isLessThan(1e-3);
  }
}
