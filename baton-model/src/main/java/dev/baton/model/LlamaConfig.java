package dev.baton.model;

import java.util.Arrays;
import java.util.Optional;

/**
 * The hyper-parameters of a Llama-family model ({@code llama}, {@code qwen2}, {@code qwen3}), read
 * from GGUF metadata and tensor presence.
 *
 * <p>RoPE: {@link RopeStyle#NORMAL} (llama) rotates adjacent pairs {@code (2i, 2i+1)} of each head,
 * because llama.cpp's converter permutes the Q/K weight rows of llama models; {@link
 * RopeStyle#NEOX} (qwen2, qwen3) rotates pairs {@code (i, i + headDim/2)}. Pair {@code i} rotates
 * by {@code pos * ropeTheta^(-2i/headDim) / ropeFreqFactors[i]}; {@code ropeFreqFactors} folds in
 * llama3-style scaling (from the {@code rope_freqs.weight} tensor or the {@code rope.scaling.*}
 * metadata) and linear scaling; it is all ones without scaling.
 *
 * <p>Tensor names follow llama.cpp: {@code token_embd.weight}, {@code blk.N.attn_norm.weight},
 * {@code blk.N.attn_q/attn_k/attn_v/attn_output.weight}, {@code blk.N.attn_q/k/v.bias} (qwen2),
 * {@code blk.N.attn_q_norm/attn_k_norm.weight} (qwen3), {@code blk.N.ffn_norm/ffn_gate/ffn_up/
 * ffn_down.weight}, {@code output_norm.weight}, {@code output.weight} (absent when tied). See
 * {@link LlamaWeights}.
 *
 * @param architecture {@code general.architecture}
 * @param dim embedding length
 * @param layers block count
 * @param heads attention heads (query)
 * @param kvHeads key/value heads (grouped-query attention when fewer than heads)
 * @param headDim per-head dimension
 * @param ffnDim feed-forward hidden size
 * @param vocabSize tokens
 * @param contextLength trained context length
 * @param rmsEps RMSNorm epsilon
 * @param ropeTheta RoPE base frequency
 * @param ropeStyle which pairs RoPE rotates
 * @param ropeFreqFactors per-pair frequency divisors, length headDim/2 (treat as read-only)
 * @param tiedEmbeddings no {@code output.weight}: the output projection is {@code
 *     token_embd.weight}
 * @param qkvBias Q/K/V projections have biases (qwen2)
 * @param qkNorm Q and K get a per-head RMSNorm before RoPE (qwen3)
 */
public record LlamaConfig(
    String architecture,
    int dim,
    int layers,
    int heads,
    int kvHeads,
    int headDim,
    int ffnDim,
    int vocabSize,
    int contextLength,
    float rmsEps,
    float ropeTheta,
    RopeStyle ropeStyle,
    float[] ropeFreqFactors,
    boolean tiedEmbeddings,
    boolean qkvBias,
    boolean qkNorm) {

  /** How RoPE pairs the dimensions of a head. */
  public enum RopeStyle {
    /** Adjacent pairs (2i, 2i+1): llama (rows permuted by llama.cpp's converter). */
    NORMAL,
    /** Pairs (i, i + headDim/2): qwen2, qwen3 (GPT-NeoX style). */
    NEOX
  }

  public LlamaConfig {
    ropeFreqFactors = ropeFreqFactors.clone();
    if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0) {
      throw new ModelFormatException("invalid model dimensions in " + architecture);
    }
    if (heads % kvHeads != 0) {
      throw new ModelFormatException(
          "head count " + heads + " is not a multiple of KV head count " + kvHeads);
    }
    if (headDim % 2 != 0) {
      throw new ModelFormatException("head dimension " + headDim + " is odd");
    }
    if (ropeFreqFactors.length != headDim / 2) {
      throw new ModelFormatException(
          "rope frequency factors have "
              + ropeFreqFactors.length
              + " entries, need "
              + headDim / 2);
    }
  }

  /** Architectures Baton runs. */
  public static final java.util.List<String> SUPPORTED_ARCHITECTURES =
      java.util.List.of("llama", "qwen2", "qwen3");

  /** Query width: heads * headDim. */
  public int qDim() {
    return heads * headDim;
  }

  /** Key/value width: kvHeads * headDim. */
  public int kvDim() {
    return kvHeads * headDim;
  }

  /** The inverse frequency of RoPE pair {@code i}: theta^(-2i/headDim) / ropeFreqFactors[i]. */
  public double ropeInvFreq(int i) {
    return Math.pow(ropeTheta, -2.0 * i / headDim) / ropeFreqFactors[i];
  }

  /** Reads the config of {@code file}; an unsupported architecture is an error naming it. */
  public static LlamaConfig fromGguf(GgufFile file) {
    String arch = file.getString("general.architecture", null);
    if (arch == null) {
      throw new ModelFormatException(file.path() + ": missing general.architecture");
    }
    if (!SUPPORTED_ARCHITECTURES.contains(arch)) {
      throw new ModelFormatException(
          file.path()
              + ": unsupported architecture '"
              + arch
              + "' (Baton runs "
              + String.join(", ", SUPPORTED_ARCHITECTURES)
              + ")");
    }
    String p = arch + ".";
    int dim = file.getInt(p + "embedding_length");
    int layers = file.getInt(p + "block_count");
    int heads = file.getInt(p + "attention.head_count");
    int kvHeads = file.getInt(p + "attention.head_count_kv", heads);
    if (heads <= 0 || dim % heads != 0 && !file.has(p + "attention.key_length")) {
      throw new ModelFormatException(
          file.path() + ": embedding length " + dim + " is not divisible by head count " + heads);
    }
    int headDim = file.getInt(p + "attention.key_length", dim / heads);
    int valueLength = file.getInt(p + "attention.value_length", headDim);
    if (valueLength != headDim) {
      throw new ModelFormatException(
          file.path() + ": key length " + headDim + " != value length " + valueLength);
    }
    int ffnDim = file.getInt(p + "feed_forward_length");
    int contextLength = file.getInt(p + "context_length", 4096);
    float eps = file.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f);
    float theta = file.getFloat(p + "rope.freq_base", 10000f);
    GgufTensor embd = file.tensor("token_embd.weight");
    int vocab;
    if (file.has(p + "vocab_size")) {
      vocab = file.getInt(p + "vocab_size");
    } else if (file.arrayLength("tokenizer.ggml.tokens") > 0) {
      vocab = file.arrayLength("tokenizer.ggml.tokens");
    } else {
      vocab = Math.toIntExact(embd.dim(1));
    }
    if (embd.dim(0) != dim || embd.dim(1) != vocab) {
      throw new ModelFormatException(
          file.path()
              + ": token_embd.weight has shape "
              + Arrays.toString(embd.shape())
              + ", expected ["
              + dim
              + ", "
              + vocab
              + "]");
    }
    float[] factors = ropeFactors(file, p, headDim, theta);
    RopeStyle style = arch.equals("llama") ? RopeStyle.NORMAL : RopeStyle.NEOX;
    boolean tied = !file.tensors().containsKey("output.weight");
    boolean bias = file.tensors().containsKey("blk.0.attn_q.bias");
    boolean qkNorm = file.tensors().containsKey("blk.0.attn_q_norm.weight");
    return new LlamaConfig(
        arch,
        dim,
        layers,
        heads,
        kvHeads,
        headDim,
        ffnDim,
        vocab,
        contextLength,
        eps,
        theta,
        style,
        factors,
        tied,
        bias,
        qkNorm);
  }

  private static float[] ropeFactors(GgufFile file, String p, int headDim, float theta) {
    int pairs = headDim / 2;
    Optional<GgufTensor> freqs = file.findTensor("rope_freqs.weight");
    if (freqs.isPresent()) {
      GgufTensor t = freqs.get();
      if (t.elementCount() != pairs) {
        throw new ModelFormatException(
            file.path()
                + ": rope_freqs.weight has "
                + t.elementCount()
                + " elements, need "
                + pairs);
      }
      return t.toFloatArray();
    }
    float[] ones = new float[pairs];
    Arrays.fill(ones, 1f);
    String type = file.getString(p + "rope.scaling.type", "none");
    switch (type) {
      case "none" -> {
        return ones;
      }
      case "linear" -> {
        Arrays.fill(ones, file.getFloat(p + "rope.scaling.factor", 1f));
        return ones;
      }
      case "llama3" -> {
        return llama3FreqFactors(
            headDim,
            theta,
            file.getFloat(p + "rope.scaling.factor", 8f),
            file.getFloat(p + "rope.scaling.low_freq_factor", 1f),
            file.getFloat(p + "rope.scaling.high_freq_factor", 4f),
            file.getInt(p + "rope.scaling.original_context_length", 8192));
      }
      default ->
          throw new ModelFormatException(
              file.path() + ": unsupported rope scaling type '" + type + "'");
    }
  }

  /**
   * Llama 3.1-style per-pair frequency divisors (what llama.cpp stores as {@code
   * rope_freqs.weight}): high frequencies unchanged, low frequencies divided by {@code factor},
   * smooth in between.
   */
  public static float[] llama3FreqFactors(
      int headDim,
      float theta,
      float factor,
      float lowFreqFactor,
      float highFreqFactor,
      int originalContextLength) {
    float[] out = new float[headDim / 2];
    double lowFreqWavelen = originalContextLength / (double) lowFreqFactor;
    double highFreqWavelen = originalContextLength / (double) highFreqFactor;
    for (int i = 0; i < out.length; i++) {
      double freq = Math.pow(theta, -2.0 * i / headDim);
      double wavelen = 2 * Math.PI / freq;
      if (wavelen < highFreqWavelen) {
        out[i] = 1f;
      } else if (wavelen > lowFreqWavelen) {
        out[i] = factor;
      } else {
        double smooth =
            (originalContextLength / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        out[i] = (float) (1.0 / ((1 - smooth) / factor + smooth));
      }
    }
    return out;
  }

  @Override
  public float[] ropeFreqFactors() {
    return ropeFreqFactors.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LlamaConfig c
        && architecture.equals(c.architecture)
        && dim == c.dim
        && layers == c.layers
        && heads == c.heads
        && kvHeads == c.kvHeads
        && headDim == c.headDim
        && ffnDim == c.ffnDim
        && vocabSize == c.vocabSize
        && contextLength == c.contextLength
        && Float.compare(rmsEps, c.rmsEps) == 0
        && Float.compare(ropeTheta, c.ropeTheta) == 0
        && ropeStyle == c.ropeStyle
        && Arrays.equals(ropeFreqFactors, c.ropeFreqFactors)
        && tiedEmbeddings == c.tiedEmbeddings
        && qkvBias == c.qkvBias
        && qkNorm == c.qkNorm;
  }

  @Override
  public int hashCode() {
    return architecture.hashCode() * 31 + dim * 17 + layers + Arrays.hashCode(ropeFreqFactors);
  }

  @Override
  public String toString() {
    return architecture
        + " dim="
        + dim
        + " layers="
        + layers
        + " heads="
        + heads
        + " kvHeads="
        + kvHeads
        + " headDim="
        + headDim
        + " ffn="
        + ffnDim
        + " vocab="
        + vocabSize
        + " ctx="
        + contextLength
        + " eps="
        + rmsEps
        + " ropeTheta="
        + ropeTheta
        + " rope="
        + ropeStyle
        + (tiedEmbeddings ? " tied" : "")
        + (qkvBias ? " qkvBias" : "")
        + (qkNorm ? " qkNorm" : "");
  }
}
