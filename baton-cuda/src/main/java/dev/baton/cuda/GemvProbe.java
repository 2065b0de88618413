package dev.baton.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Decode-sized linear layers of the 1B model timed on the GPU, for choosing the {@code gemv}
 * kernel: each layout in kernels.cu and cuBLAS, f16, one input row, against the device's copy
 * bandwidth. Each measurement replays a CUDA graph of {@link #LAUNCHES} launches that cycle through
 * enough weight copies to miss the L2 cache, so launch gaps and cache hits stay out of it.
 *
 * <p>Usage: {@code GemvProbe} (prints a table).
 */
public final class GemvProbe {

  private static final int LAUNCHES = 64;
  private static final int REPEATS = 5;

  /** (out, in) of the 1B model's projections: qkv, o, gate/up, down, logits. */
  private static final int[][] SHAPES = {
    {3072, 2048}, {2048, 2048}, {16384, 2048}, {2048, 8192}, {128256, 2048}
  };

  private GemvProbe() {}

  public static void main(String[] args) {
    CudaDevice device = CudaDevice.open(0);
    CudaDriver driver = device.driver();
    MemorySegment stream = driver.createStream();
    Path cache = Path.of(System.getProperty("java.io.tmpdir"), "baton-gemv-probe");
    CudaKernels kernels =
        new CudaKernels(
            driver,
            stream,
            Nvrtc.load(device.libraries()),
            device.major(),
            device.minor(),
            Precision.F16,
            true,
            cache);
    Cublas cublas = Cublas.load(device.libraries());
    long workspace = driver.alloc(32L << 20);
    cublas.use(stream, workspace, 32L << 20);
    System.out.println("device: " + device);

    long copyBytes = 1L << 30;
    long a = driver.alloc(copyBytes);
    long b = driver.alloc(copyBytes);
    driver.zero(a, copyBytes);
    double copyUs =
        time(
            driver,
            stream,
            () -> kernels.launch("copy_f4", 132 * 16, 1, 256, 0, a, b, copyBytes / 16),
            1);
    double copyTbs = 2.0 * copyBytes / copyUs / 1e6;
    System.out.printf(Locale.ROOT, "copy 1 GiB (read + write): %.2f TB/s%n", copyTbs);
    driver.free(a);
    driver.free(b);

    List<String> variants = List.of("gemv", "cublas");
    System.out.printf(Locale.ROOT, "| out x in | %s |%n", String.join(" | ", variants));
    for (int[] shape : SHAPES) {
      int out = shape[0];
      int in = shape[1];
      long wBytes = 2L * out * in;
      int copies = (int) Math.max(1, Math.min(LAUNCHES, (512L << 20) / wBytes));
      long[] w = new long[copies];
      for (int i = 0; i < copies; i++) {
        w[i] = driver.alloc(wBytes);
        driver.zero(w[i], wBytes);
      }
      long x = driver.alloc(2L * in);
      driver.zero(x, 2L * in);
      long y = driver.alloc(4L * out);
      List<String> cells = new ArrayList<>();
      for (String v : variants) {
        double us =
            time(
                driver,
                stream,
                new Runnable() {
                  int i;

                  @Override
                  public void run() {
                    long wi = w[i++ % copies];
                    if (v.equals("cublas")) {
                      cublas.linear(wi, x, y, 1, out, in, Cublas.R_16F, out, false);
                    } else {
                      kernels.launch(v, (out + 7) / 8, 1, 256, 0, wi, x, y, 1, out, in, out, 0);
                    }
                  }
                },
                LAUNCHES);
        cells.add(String.format(Locale.ROOT, "%.1f us %.2f TB/s", us, wBytes / us / 1e6));
      }
      System.out.printf(Locale.ROOT, "| %d x %d | %s |%n", out, in, String.join(" | ", cells));
      for (long p : w) {
        driver.free(p);
      }
      driver.free(x);
      driver.free(y);
    }
  }

  /** Median over {@link #REPEATS} replays of a graph of {@code launches} calls; us per call. */
  private static double time(
      CudaDriver driver, MemorySegment stream, Runnable launch, int launches) {
    driver.beginCapture(stream);
    for (int i = 0; i < launches; i++) {
      launch.run();
    }
    MemorySegment exec = driver.endCapture(stream);
    driver.launchGraph(exec, stream); // warm-up
    driver.synchronize(stream);
    double[] us = new double[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
      long t = System.nanoTime();
      driver.launchGraph(exec, stream);
      driver.synchronize(stream);
      us[r] = (System.nanoTime() - t) / 1e3 / launches;
    }
    driver.destroyGraph(exec);
    java.util.Arrays.sort(us);
    return us[REPEATS / 2];
  }
}
