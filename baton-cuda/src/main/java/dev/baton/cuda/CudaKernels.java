package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The forward pass's own kernels ({@code kernels.cu}, a resource), compiled by NVRTC for the device
 * at start (cached, {@link Nvrtc#compile}) and launched by name. One instance per runner: the
 * launch argument buffer is reused, so launches come from one thread at a time.
 */
public final class CudaKernels implements AutoCloseable {

  /** The kernels the runner launches; each is an {@code extern "C" __global__} in kernels.cu. */
  public static final List<String> NAMES =
      List.of(
          "rope_table",
          "embed",
          "rmsnorm",
          "rmsnorm_regs",
          "qkv_prep",
          "attention",
          "attention_split",
          "attention_combine",
          "gather_kv",
          "pack_q",
          "causal_softmax",
          "causal_softmax_h",
          "scatter_attn",
          "flash_prefill_32",
          "flash_prefill_64",
          "flash_prefill_128",
          "silu_mul",
          "gemv",
          "copy_f4",
          "argmax_partial",
          "argmax_final");

  static final String SOURCE = "kernels.cu";

  /** Compiled after {@link #SOURCE} in the same program (it uses that file's helpers). */
  static final String FLASH_SOURCE = "flash_prefill.cu";

  /**
   * Query rows per block and threads of the {@code flash_prefill_*} kernels (FA_ROWS, FA_THREADS).
   */
  static final int FLASH_ROWS = 64;

  static final int FLASH_THREADS = 128;

  /** Threads per attention block and positions per tile (ATT_THREADS, ATT_TILE in kernels.cu). */
  static final int ATTENTION_THREADS = 128;

  static final int ATTENTION_TILE = 128;

  /** Largest query-head group per KV head, and group x head dim (ATT_MAX_GROUP, x ACC). */
  static final int ATTENTION_MAX_GROUP = 8;

  static final int ATTENTION_MAX_WIDTH = 1024;

  /** Values per thread of {@code rmsnorm_regs} (NORM_REGS in kernels.cu). */
  static final int NORM_REGS = 8;

  /** Context slices per token of {@code attention_split} (ATT_SPLITS in kernels.cu). */
  static final int ATTENTION_SPLITS = 32;

  /** Largest head dim {@code attention_split} takes (32 x ATT_DPL). */
  static final int ATTENTION_SPLIT_MAX_HEAD_DIM = 128;

  /** Most tokens of a step that attend through {@code attention_split}: decode-sized steps. */
  static final int ATTENTION_SPLIT_MAX_TOKENS = 64;

  /** Most input rows the {@code gemv} kernel takes (GEMV_MAX_N in kernels.cu). */
  static final int GEMV_MAX_N = 8;

  /** Slices per row of the two-pass argmax (ARGMAX_SPLITS in kernels.cu). */
  static final int ARGMAX_SPLITS = 64;

  private static final int MAX_ARGS = 32;

  private final CudaDriver driver;
  private final MemorySegment stream;
  private final Map<String, MemorySegment> functions = new HashMap<>();
  private final Arena arena = Arena.ofShared();
  private final MemorySegment values = arena.allocate(8L * MAX_ARGS, 8);
  private final MemorySegment pointers = arena.allocate(ADDRESS, MAX_ARGS);

  /**
   * Compiles (or loads from {@code cacheDir}) the kernels, launched on {@code stream}, for compute
   * capability {@code major.minor}, with {@code precision} activations and an fp16 or fp32 KV
   * cache.
   */
  public CudaKernels(
      CudaDriver driver,
      MemorySegment stream,
      Nvrtc nvrtc,
      int major,
      int minor,
      Precision precision,
      boolean f16Kv,
      Path cacheDir) {
    this.driver = driver;
    this.stream = stream;
    byte[] image =
        nvrtc.compile(SOURCE, source(), options(major, minor, precision, f16Kv), cacheDir);
    MemorySegment module = driver.loadModule(image);
    for (String name : NAMES) {
      functions.put(name, driver.function(module, name));
    }
    for (int i = 0; i < MAX_ARGS; i++) {
      pointers.setAtIndex(ADDRESS, i, values.asSlice(8L * i, 8));
    }
  }

  /** NVRTC options: the device's real architecture (so no PTX JIT at load) and the two switches. */
  static List<String> options(int major, int minor, Precision precision, boolean f16Kv) {
    List<String> o = new ArrayList<>();
    o.add("--gpu-architecture=sm_" + major + minor);
    o.add("--std=c++17");
    if (precision.define != null) {
      o.add(precision.define);
    }
    if (f16Kv) {
      o.add("-DKV_F16");
    }
    return o;
  }

  /** The kernel source: the resources {@code kernels.cu} and {@code flash_prefill.cu}, in order. */
  static String source() {
    return resource(SOURCE) + "\n" + resource(FLASH_SOURCE);
  }

  private static String resource(String name) {
    try (InputStream in = CudaKernels.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("resource " + name + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Dynamic shared memory of the attention kernel for a group of {@code group} heads. */
  static int attentionSharedBytes(int group, int headDim) {
    return 8 * ATTENTION_TILE + 4 * (group * headDim + group * ATTENTION_TILE + 3 * group);
  }

  /**
   * Launches {@code name} with a {@code (gridX, gridY)} grid of {@code block} threads. Arguments:
   * {@code Long} (device pointers, 0 for null, and 64-bit integers), {@code Integer}, {@code
   * Float}.
   */
  public void launch(
      String name, int gridX, int gridY, int block, int sharedBytes, Object... args) {
    if (args.length > MAX_ARGS) {
      throw new IllegalArgumentException(name + ": more than " + MAX_ARGS + " arguments");
    }
    for (int i = 0; i < args.length; i++) {
      long at = 8L * i;
      switch (args[i]) {
        case Long l -> values.set(JAVA_LONG, at, l);
        case Integer n -> values.set(JAVA_INT, at, n);
        case Float f -> values.set(JAVA_FLOAT, at, f);
        default -> throw new IllegalArgumentException(name + ": argument " + i + " " + args[i]);
      }
    }
    MemorySegment f = functions.get(name);
    if (f == null) {
      throw new IllegalArgumentException("no kernel " + name);
    }
    driver.launch(stream, f, gridX, gridY, block, sharedBytes, pointers, name);
  }

  @Override
  public void close() {
    arena.close();
  }
}
