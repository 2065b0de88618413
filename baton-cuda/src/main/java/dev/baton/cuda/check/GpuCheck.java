package dev.baton.cuda.check;

import dev.baton.cuda.CudaDevice;
import dev.baton.cuda.CudaRunner;
import dev.baton.cuda.Precision;
import dev.baton.engine.KvBlockPool;
import dev.baton.model.GgmlType;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.RandomModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every GPU check and benchmark in one run, printed as one table ({@code bin/gpu-check} runs it on
 * the GPU machine). Correctness compares the CUDA backend with the CPU backend on random models;
 * speed runs on a Llama-3.2-1B-shaped random model. Exits 1 when a correctness check fails.
 *
 * <p>Usage: {@code GpuCheck WORK_DIR [--no-bench] [--device N]}
 */
public final class GpuCheck {

  private record Row(String check, String result, String target, Boolean ok) {}

  private final List<Row> rows = new ArrayList<>();

  public static void main(String[] args) throws IOException {
    Path work = Path.of(args.length > 0 ? args[0] : "gpu-check-work");
    List<String> flags = Arrays.asList(args);
    int deviceOrdinal =
        flags.contains("--device") ? Integer.parseInt(flags.get(flags.indexOf("--device") + 1)) : 0;
    Files.createDirectories(work);
    GpuCheck check = new GpuCheck();
    CudaDevice device = CudaDevice.open(deviceOrdinal);
    System.out.println("device: " + device);
    System.out.println("libraries: " + device.libraries());
    boolean ok = check.correctness(device, work);
    if (!flags.contains("--no-bench")) {
      check.speed(device, work);
    }
    check.print();
    System.exit(ok ? 0 : 1);
  }

  private boolean correctness(CudaDevice device, Path work) {
    RandomModel.Spec small = RandomModel.Preset.SMALL.spec.withLlama3RopeScaling(true);
    Path llama = model(work, "small-llama3", small, GgmlType.F32);
    Path qwen2 = model(work, "small-qwen2", small.withArchitecture("qwen2"), GgmlType.F32);
    Path qwen3 = model(work, "small-qwen3", small.withArchitecture("qwen3"), GgmlType.F32);
    Path q8 = model(work, "small-q8_0", small, GgmlType.Q8_0);
    boolean ok = true;
    // The default precision is held to the targets; bf16 rows are for comparison.
    for (Precision p : new Precision[] {Precision.DEFAULT, Precision.BF16}) {
      boolean gate = p == Precision.DEFAULT;
      ok &= teacherForced(device, llama, "llama3-rope small", p, KvBlockPool.Dtype.F32, gate);
      ok &= teacherForced(device, llama, "llama3-rope small", p, KvBlockPool.Dtype.F16, gate);
      ok &= teacherForced(device, q8, "Q8_0 small", p, KvBlockPool.Dtype.F16, gate);
    }
    for (Path m : new Path[] {llama, qwen2, qwen3}) {
      String name = m.getFileName().toString().replace(".gguf", "");
      ok &= teacherForced(device, m, name, Precision.FP32, KvBlockPool.Dtype.F32, true);
    }
    for (Precision p : new Precision[] {Precision.FP32, Precision.DEFAULT}) {
      ok &= prefillThenDecode(device, llama, p);
    }
    ok &= greedy(device, llama, Precision.FP32, true);
    greedy(device, llama, Precision.DEFAULT, false);
    dumpForHf(device, llama, work.resolve("hf"));
    return ok;
  }

  /**
   * Tokens and the GPU's logits (fp32 and the default precision) of the small llama3 model for
   * docs/gpu/hf_compare.py, which runs HF transformers on the same GGUF weights: little-endian
   * {@code tokens.i32} and {@code logits-<precision>.f32} (positions x vocabulary).
   */
  private void dumpForHf(CudaDevice device, Path model, Path dir) {
    try {
      Files.createDirectories(dir);
      Files.copy(model, dir.resolve("model.gguf"), StandardCopyOption.REPLACE_EXISTING);
      int vocab;
      try (GgufFile f = GgufFile.open(model)) {
        vocab = LlamaConfig.fromGguf(f).vocabSize();
      }
      int[] tokens = GpuCorrectness.randomTokens(1024, vocab, 5);
      ByteBuffer t = ByteBuffer.allocate(4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
      t.asIntBuffer().put(tokens);
      Files.write(dir.resolve("tokens.i32"), t.array());
      for (Precision p : new Precision[] {Precision.FP32, Precision.DEFAULT}) {
        float[][] logits = GpuCorrectness.gpuLogits(device, model, tokens, p);
        ByteBuffer b =
            ByteBuffer.allocate(4 * tokens.length * vocab).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] row : logits) {
          b.asFloatBuffer().put(row);
          b.position(b.position() + 4 * row.length);
        }
        Files.write(dir.resolve("logits-" + p + ".f32"), b.array());
      }
    } catch (IOException | RuntimeException e) {
      rows.add(new Row("logits for HF transformers", "FAILED: " + e, "-", false));
      e.printStackTrace();
    }
  }

  private boolean teacherForced(
      CudaDevice device,
      Path model,
      String name,
      Precision precision,
      KvBlockPool.Dtype kv,
      boolean gate) {
    String what = name + ", " + precision + ", KV " + kv.name().toLowerCase(Locale.ROOT);
    try {
      GpuCorrectness.TeacherForced r =
          GpuCorrectness.teacherForced(device, model, 1024, precision, kv);
      boolean ok = r.top1Agreement() >= 0.99;
      rows.add(
          new Row(
              "teacher-forced top-1 vs CPU: " + what,
              String.format(
                  Locale.ROOT,
                  "%.2f%% of %d; max|dlogit| %.2e (max|logit| %.2f); max|dKV| %.2e",
                  100 * r.top1Agreement(),
                  r.positions(),
                  r.maxAbsLogitDiff(),
                  r.maxAbsLogit(),
                  r.maxAbsKvDiff()),
              gate ? ">= 99%" : "-",
              gate ? ok : null));
      return ok || !gate;
    } catch (RuntimeException e) {
      rows.add(new Row("teacher-forced: " + what, "FAILED: " + e, ">= 99%", false));
      e.printStackTrace();
      return false;
    }
  }

  private boolean prefillThenDecode(CudaDevice device, Path model, Precision precision) {
    String attention = CudaRunner.flashPrefill(device, precision, 32) ? "flash" : "GEMM";
    String what =
        "chunked prefill (" + attention + " attention) + 64 decode rows vs CPU, " + precision;
    try {
      GpuCorrectness.TeacherForced r = GpuCorrectness.prefillThenDecode(device, model, precision);
      boolean ok = r.top1Agreement() >= 0.99;
      rows.add(
          new Row(
              what,
              String.format(
                  Locale.ROOT,
                  "%.2f%% of %d; max|dlogit| %.2e (max|logit| %.2f)",
                  100 * r.top1Agreement(),
                  r.positions(),
                  r.maxAbsLogitDiff(),
                  r.maxAbsLogit()),
              ">= 99%",
              ok));
      return ok;
    } catch (RuntimeException e) {
      rows.add(new Row(what, "FAILED: " + e, ">= 99%", false));
      e.printStackTrace();
      return false;
    }
  }

  private boolean greedy(CudaDevice device, Path model, Precision precision, boolean gate) {
    String what = "greedy 32 tokens, " + precision;
    try {
      int[][] t = GpuCorrectness.greedy(device, model, 16, 32, precision);
      int same = 0;
      while (same < t[0].length && t[0][same] == t[1][same]) {
        same++;
      }
      boolean ok = same == t[0].length;
      rows.add(
          new Row(
              what + " vs CPU",
              same + "/" + t[0].length + " equal before the first difference",
              gate ? "32/32" : "-",
              gate ? ok : null));
      return ok || !gate;
    } catch (RuntimeException e) {
      rows.add(new Row(what, "FAILED: " + e, "32/32", false));
      e.printStackTrace();
      return !gate;
    }
  }

  private void speed(CudaDevice device, Path work) {
    Path oneB = work.resolve("random-1b.gguf");
    if (!Files.exists(oneB)) {
      long t = System.nanoTime();
      RandomModel.write(oneB, RandomModel.Preset.ONE_B, 1);
      System.out.printf("wrote %s in %.1f s%n", oneB, (System.nanoTime() - t) / 1e9);
    }
    try {
      Map<String, Double> r = GpuBench.run(device, oneB);
      String[][] targets = {
        {"device_copy_64MiB_GB_s", "-"},
        {"load_s", "-"},
        {"decode_1_argmax_no_graph_tok_s", "-"},
        {"decode_32_argmax_no_graph_tok_s", "-"},
        {"decode_1_argmax_gemv_kernel_tok_s", "-"},
        {"decode_1_argmax_unsplit_attention_tok_s", "-"},
        {"decode_1_argmax_median3_tok_s", "-"},
        {"decode_1_argmax_looping_rmsnorm_median3_tok_s", "-"},
        {"decode_1_argmax_64_position_slices_median3_tok_s", "-"},
        {"decode_1_tok_s", "-"},
        {"decode_1_argmax_tok_s", ">= 1000"},
        {"decode_32_tok_s", "-"},
        {"decode_32_argmax_tok_s", ">= 10000"},
        {"prefill_2048_gemm_attention_ms", "-"},
        {"prefill_2048_ms", "<= 15"},
        {"prefill_2048_flash_vs_gemm_same_greedy_tokens_of_32", "-"},
      };
      for (String[] t : targets) {
        Double v = r.get(t[0]);
        Boolean ok =
            t[1].startsWith(">=")
                ? Boolean.valueOf(v >= Double.parseDouble(t[1].substring(3)))
                : t[1].startsWith("<=")
                    ? Boolean.valueOf(v <= Double.parseDouble(t[1].substring(3)))
                    : null;
        rows.add(
            new Row(
                "1B " + Precision.DEFAULT + " " + t[0],
                String.format(Locale.ROOT, "%.1f", v),
                t[1],
                ok));
      }
    } catch (RuntimeException e) {
      rows.add(new Row("1B benchmarks", "FAILED: " + e, "-", false));
      e.printStackTrace();
    }
  }

  /** The random model {@code name} under {@code work}, written on first use. */
  private static Path model(Path work, String name, RandomModel.Spec spec, GgmlType type) {
    Path p = work.resolve(name + ".gguf");
    if (!Files.exists(p)) {
      RandomModel.write(p, spec, 3, type);
    }
    return p;
  }

  private void print() {
    int w0 = "check".length();
    int w1 = "result".length();
    for (Row r : rows) {
      w0 = Math.max(w0, r.check.length());
      w1 = Math.max(w1, r.result.length());
    }
    String fmt = "| %-" + w0 + "s | %-" + w1 + "s | %-8s | %-4s |%n";
    System.out.printf(fmt, "check", "result", "target", "ok");
    System.out.printf(fmt, "-".repeat(w0), "-".repeat(w1), "-".repeat(8), "----");
    for (Row r : rows) {
      System.out.printf(fmt, r.check, r.result, r.target, r.ok == null ? "" : r.ok ? "yes" : "NO");
    }
  }
}
