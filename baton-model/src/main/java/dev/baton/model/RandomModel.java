package dev.baton.model;

import dev.baton.model.internal.RandomVocab;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * Deterministic random Llama-3-style GGUF models for tests and benchmarks: the same spec, seed and
 * type give the same bytes. Weights are uniform with the variance of N(0, 1/fan_in) so activations
 * stay near unit scale; norm weights are near 1. The tokenizer metadata is a complete Llama 3
 * byte-level BPE tokenizer ({@code gpt2} / {@code llama-bpe}) with special tokens and a Llama 3
 * chat template.
 *
 * <p>Tensors whose row length is not a multiple of the requested type's block size (e.g. Q4_K on
 * the tiny preset's 64-wide rows) are written as Q8_0 instead, as llama.cpp's quantizer falls back;
 * 1-D tensors (norms, biases, rope factors) are always F32.
 */
public final class RandomModel {

  /** Llama 3's chat template (as shipped in Llama 3 instruct GGUFs). */
  public static final String LLAMA3_CHAT_TEMPLATE =
      "{% set loop_messages = messages %}{% for message in loop_messages %}"
          + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
          + "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          + "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
          + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
          + "{% endif %}";

  /**
   * The shape of a random model.
   *
   * @param name value of {@code general.name}
   * @param architecture {@code llama}, {@code qwen2} (adds Q/K/V biases) or {@code qwen3} (adds Q/K
   *     norms)
   * @param dim embedding length
   * @param layers blocks
   * @param heads query heads
   * @param kvHeads key/value heads
   * @param ffnDim feed-forward size
   * @param vocabSize total tokens, including {@code specialTokens}
   * @param specialTokens Llama 3 special tokens at the end of the vocabulary (at least 11)
   * @param contextLength trained context length
   * @param ropeTheta RoPE base
   * @param llama3RopeScaling write a {@code rope_freqs.weight} tensor with Llama 3.1 factors
   * @param tiedEmbeddings omit {@code output.weight}
   * @param defaultType tensor type when none is asked for
   */
  public record Spec(
      String name,
      String architecture,
      int dim,
      int layers,
      int heads,
      int kvHeads,
      int ffnDim,
      int vocabSize,
      int specialTokens,
      int contextLength,
      float ropeTheta,
      boolean llama3RopeScaling,
      boolean tiedEmbeddings,
      GgmlType defaultType) {

    public Spec withArchitecture(String arch) {
      return new Spec(
          name,
          arch,
          dim,
          layers,
          heads,
          kvHeads,
          ffnDim,
          vocabSize,
          specialTokens,
          contextLength,
          ropeTheta,
          llama3RopeScaling,
          tiedEmbeddings,
          defaultType);
    }

    public Spec withTiedEmbeddings(boolean tied) {
      return new Spec(
          name,
          architecture,
          dim,
          layers,
          heads,
          kvHeads,
          ffnDim,
          vocabSize,
          specialTokens,
          contextLength,
          ropeTheta,
          llama3RopeScaling,
          tied,
          defaultType);
    }

    public Spec withLlama3RopeScaling(boolean scaling) {
      return new Spec(
          name,
          architecture,
          dim,
          layers,
          heads,
          kvHeads,
          ffnDim,
          vocabSize,
          specialTokens,
          contextLength,
          ropeTheta,
          scaling,
          tiedEmbeddings,
          defaultType);
    }

    public int headDim() {
      return dim / heads;
    }
  }

  /** The presets of {@code baton model random}. */
  public enum Preset {
    /** Test model: F32, untied output, 384 tokens. */
    TINY(
        new Spec(
            "baton-random-tiny",
            "llama",
            64,
            2,
            4,
            2,
            192,
            384,
            16,
            4096,
            10000f,
            false,
            false,
            GgmlType.F32)),
    /** Slightly bigger test model: 2048 tokens, tied embeddings. */
    SMALL(
        new Spec(
            "baton-random-small",
            "llama",
            256,
            4,
            8,
            4,
            768,
            2048,
            16,
            4096,
            10000f,
            false,
            true,
            GgmlType.F32)),
    /** Llama-3.2-1B's shape, Q8_0, llama3 rope scaling, tied embeddings (~1.3 GB). */
    ONE_B(
        new Spec(
            "baton-random-1b",
            "llama",
            2048,
            16,
            32,
            8,
            8192,
            128256,
            256,
            8192,
            500000f,
            true,
            true,
            GgmlType.Q8_0));

    public final Spec spec;

    Preset(Spec spec) {
      this.spec = spec;
    }

    /** The CLI name: tiny, small, 1b. */
    public String cliName() {
      return this == ONE_B ? "1b" : name().toLowerCase(Locale.ROOT);
    }

    /** The preset named {@code name} (tiny, small, 1b); anything else is a clear error. */
    public static Preset parse(String name) {
      for (Preset p : values()) {
        if (p.cliName().equalsIgnoreCase(name)) {
          return p;
        }
      }
      throw new IllegalArgumentException(
          "unknown preset '" + name + "' (choose tiny, small or 1b)");
    }
  }

  private RandomModel() {}

  /** Parses a tensor type name as the CLI writes it (q8_0, f32, f16, bf16, q4_0, q4_k, q6_k). */
  public static GgmlType parseType(String name) {
    for (GgmlType t : GgmlType.values()) {
      if (t.name().equalsIgnoreCase(name)) {
        return t;
      }
    }
    throw new IllegalArgumentException(
        "unknown tensor type '" + name + "' (choose f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
  }

  /** Writes preset {@code preset} with its default type. */
  public static void write(Path out, Preset preset, long seed) {
    write(out, preset.spec, seed, preset.spec.defaultType());
  }

  /** Writes a random model of {@code spec} to {@code out}. */
  public static void write(Path out, Spec spec, long seed, GgmlType type) {
    writer(spec, seed, type).write(out);
  }

  /**
   * A writer holding the full metadata and lazily generated tensors of the model (nothing is
   * generated until {@link GgufWriter#write}).
   */
  public static GgufWriter writer(Spec spec, long seed, GgmlType type) {
    if (spec.dim % spec.heads != 0 || spec.heads % spec.kvHeads != 0) {
      throw new IllegalArgumentException("invalid head layout in " + spec);
    }
    int headDim = spec.headDim();
    int qDim = spec.heads * headDim;
    int kvDim = spec.kvHeads * headDim;
    String a = spec.architecture + ".";
    GgufWriter w = new GgufWriter();
    w.putString("general.architecture", spec.architecture);
    w.putString("general.name", spec.name);
    w.putUInt32("general.file_type", fileType(type));
    w.putUInt32("general.quantization_version", 2);
    w.putUInt32(a + "block_count", spec.layers);
    w.putUInt32(a + "context_length", spec.contextLength);
    w.putUInt32(a + "embedding_length", spec.dim);
    w.putUInt32(a + "feed_forward_length", spec.ffnDim);
    w.putUInt32(a + "attention.head_count", spec.heads);
    w.putUInt32(a + "attention.head_count_kv", spec.kvHeads);
    w.putUInt32(a + "attention.key_length", headDim);
    w.putUInt32(a + "attention.value_length", headDim);
    w.putFloat32(a + "rope.freq_base", spec.ropeTheta);
    w.putUInt32(a + "rope.dimension_count", headDim);
    w.putFloat32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    w.putUInt32(a + "vocab_size", spec.vocabSize);
    putTokenizer(w, spec);

    if (spec.llama3RopeScaling) {
      float[] f = LlamaConfig.llama3FreqFactors(headDim, spec.ropeTheta, 32f, 1f, 4f, 8192);
      w.addTensor("rope_freqs.weight", GgmlType.F32, new long[] {headDim / 2}, f);
    }
    addMatrix(w, "token_embd.weight", type, spec.dim, spec.vocabSize, 1.0 / spec.dim, seed);
    for (int i = 0; i < spec.layers; i++) {
      String b = "blk." + i + ".";
      addNorm(w, b + "attn_norm.weight", spec.dim, seed);
      addMatrix(w, b + "attn_q.weight", type, spec.dim, qDim, 1.0 / spec.dim, seed);
      addMatrix(w, b + "attn_k.weight", type, spec.dim, kvDim, 1.0 / spec.dim, seed);
      addMatrix(w, b + "attn_v.weight", type, spec.dim, kvDim, 1.0 / spec.dim, seed);
      if (spec.architecture.equals("qwen2")) {
        addVector(w, b + "attn_q.bias", qDim, 0f, 0.1f, seed);
        addVector(w, b + "attn_k.bias", kvDim, 0f, 0.1f, seed);
        addVector(w, b + "attn_v.bias", kvDim, 0f, 0.1f, seed);
      }
      if (spec.architecture.equals("qwen3")) {
        addNorm(w, b + "attn_q_norm.weight", headDim, seed);
        addNorm(w, b + "attn_k_norm.weight", headDim, seed);
      }
      addMatrix(w, b + "attn_output.weight", type, qDim, spec.dim, 1.0 / qDim, seed);
      addNorm(w, b + "ffn_norm.weight", spec.dim, seed);
      addMatrix(w, b + "ffn_gate.weight", type, spec.dim, spec.ffnDim, 1.0 / spec.dim, seed);
      addMatrix(w, b + "ffn_up.weight", type, spec.dim, spec.ffnDim, 1.0 / spec.dim, seed);
      addMatrix(w, b + "ffn_down.weight", type, spec.ffnDim, spec.dim, 1.0 / spec.ffnDim, seed);
    }
    addNorm(w, "output_norm.weight", spec.dim, seed);
    if (!spec.tiedEmbeddings) {
      addMatrix(w, "output.weight", type, spec.dim, spec.vocabSize, 1.0 / spec.dim, seed);
    }
    return w;
  }

  /** llama.cpp's general.file_type for an all-{@code type} model. */
  private static int fileType(GgmlType type) {
    return switch (type) {
      case F32 -> 0;
      case F16 -> 1;
      case Q4_0 -> 2;
      case Q8_0 -> 7;
      case Q4_K -> 15;
      case Q6_K -> 18;
      case BF16 -> 32;
    };
  }

  private static void putTokenizer(GgufWriter w, Spec spec) {
    RandomVocab vocab = RandomVocab.build(spec.vocabSize, spec.specialTokens);
    int firstSpecial = spec.vocabSize - spec.specialTokens;
    int[] types = new int[spec.vocabSize];
    Arrays.fill(types, 0, firstSpecial, 1); // NORMAL
    Arrays.fill(types, firstSpecial, spec.vocabSize, 3); // CONTROL
    w.putString("tokenizer.ggml.model", "gpt2");
    w.putString("tokenizer.ggml.pre", spec.architecture.equals("llama") ? "llama-bpe" : "qwen2");
    w.putStringArray("tokenizer.ggml.tokens", vocab.tokens());
    w.putInt32Array("tokenizer.ggml.token_type", types);
    w.putStringArray("tokenizer.ggml.merges", vocab.merges());
    w.putUInt32("tokenizer.ggml.bos_token_id", firstSpecial); // <|begin_of_text|>
    w.putUInt32("tokenizer.ggml.eos_token_id", firstSpecial + 9); // <|eot_id|>
    w.putUInt32("tokenizer.ggml.eot_token_id", firstSpecial + 9);
    w.putUInt32("tokenizer.ggml.padding_token_id", firstSpecial + 4); // <|finetune_right_pad_id|>
    w.putBool("tokenizer.ggml.add_bos_token", true);
    w.putString("tokenizer.chat_template", LLAMA3_CHAT_TEMPLATE);
  }

  // ---- deterministic generation ----

  /** Rows generated per task: chunks are seeded by (seed, tensor name, chunk) alone. */
  private static final int CHUNK_ELEMENTS = 1 << 16;

  private static void addMatrix(
      GgufWriter w, String name, GgmlType type, int in, int out, double variance, long seed) {
    GgmlType t = in % type.blockSize == 0 ? type : GgmlType.Q8_0;
    double halfWidth = Math.sqrt(3 * variance); // uniform(-a, a) has variance a^2/3
    w.addTensor(
        name, t, new long[] {in, out}, filler(t, name, in, out, 0f, (float) halfWidth, seed));
  }

  private static void addNorm(GgufWriter w, String name, int n, long seed) {
    addVector(w, name, n, 1f, 0.1f, seed);
  }

  private static void addVector(
      GgufWriter w, String name, int n, float center, float halfWidth, long seed) {
    w.addTensor(
        name,
        GgmlType.F32,
        new long[] {n},
        filler(GgmlType.F32, name, n, 1, center, halfWidth, seed));
  }

  private static GgufWriter.TensorFiller filler(
      GgmlType type,
      String name,
      int rowLength,
      int rows,
      float center,
      float halfWidth,
      long seed) {
    return dst -> {
      int rowsPerChunk = Math.max(1, CHUNK_ELEMENTS / rowLength);
      int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
      long rowBytes = type.bytesFor(rowLength);
      long base = mix(seed ^ mix(name.hashCode() * 0x9E3779B97F4A7C15L));
      IntStream.range(0, chunks)
          .parallel()
          .forEach(
              c -> {
                int r0 = c * rowsPerChunk;
                int n = Math.min(rowsPerChunk, rows - r0) * rowLength;
                float[] values = new float[n];
                long state = mix(base + c * 0xD1B54A32D192ED03L);
                for (int i = 0; i < n; i += 2) { // two 24-bit uniforms per 64-bit draw
                  state += 0x9E3779B97F4A7C15L;
                  long z = mix(state);
                  values[i] = center + (2 * ((z >>> 40) * 0x1.0p-24f) - 1) * halfWidth;
                  if (i + 1 < n) {
                    values[i + 1] = center + (2 * ((z & 0xFFFFFF) * 0x1.0p-24f) - 1) * halfWidth;
                  }
                }
                byte[] bytes = new byte[Math.toIntExact(type.bytesFor(n))];
                GgmlQuant.quantize(type, values, 0, n, bytes, 0);
                MemorySegment.copy(
                    bytes, 0, dst, ValueLayout.JAVA_BYTE, r0 * rowBytes, bytes.length);
              });
    };
  }

  /** SplitMix64's finalizer. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
