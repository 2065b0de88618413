package dev.baton.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The tensors of a Llama-family model, looked up by their llama.cpp names and checked against the
 * {@link LlamaConfig} so a malformed model fails at load with the tensor's name, not deep in a
 * kernel. Shapes are in ggml order ({@code [in, out]}: each of the {@code out} rows holds {@code
 * in} elements).
 *
 * @param tokenEmbedding {@code token_embd.weight} (dim, vocab)
 * @param output {@code output.weight} (dim, vocab), or {@code token_embd.weight} when tied
 * @param outputNorm {@code output_norm.weight} (dim)
 * @param layers one entry per block
 */
public record LlamaWeights(
    GgufTensor tokenEmbedding, GgufTensor output, GgufTensor outputNorm, List<Layer> layers) {

  /**
   * One transformer block. Optional tensors are null: biases (qwen2 only) and Q/K norms (qwen3
   * only).
   *
   * @param attnNorm (dim)
   * @param wq (dim, heads * headDim)
   * @param wk (dim, kvHeads * headDim)
   * @param wv (dim, kvHeads * headDim)
   * @param wo (heads * headDim, dim)
   * @param bq (heads * headDim) or null
   * @param bk (kvHeads * headDim) or null
   * @param bv (kvHeads * headDim) or null
   * @param qNorm (headDim) or null
   * @param kNorm (headDim) or null
   * @param ffnNorm (dim)
   * @param ffnGate (dim, ffnDim)
   * @param ffnUp (dim, ffnDim)
   * @param ffnDown (ffnDim, dim)
   */
  public record Layer(
      GgufTensor attnNorm,
      GgufTensor wq,
      GgufTensor wk,
      GgufTensor wv,
      GgufTensor wo,
      GgufTensor bq,
      GgufTensor bk,
      GgufTensor bv,
      GgufTensor qNorm,
      GgufTensor kNorm,
      GgufTensor ffnNorm,
      GgufTensor ffnGate,
      GgufTensor ffnUp,
      GgufTensor ffnDown) {}

  public LlamaWeights {
    layers = List.copyOf(layers);
  }

  /** Looks up and shape-checks every tensor of {@code config} in {@code file}. */
  public static LlamaWeights of(GgufFile file, LlamaConfig config) {
    int dim = config.dim();
    int q = config.qDim();
    int kv = config.kvDim();
    int ffn = config.ffnDim();
    int vocab = config.vocabSize();
    GgufTensor embd = get(file, "token_embd.weight", dim, vocab);
    GgufTensor out = config.tiedEmbeddings() ? embd : get(file, "output.weight", dim, vocab);
    GgufTensor outNorm = get(file, "output_norm.weight", dim);
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < config.layers(); i++) {
      String b = "blk." + i + ".";
      layers.add(
          new Layer(
              get(file, b + "attn_norm.weight", dim),
              get(file, b + "attn_q.weight", dim, q),
              get(file, b + "attn_k.weight", dim, kv),
              get(file, b + "attn_v.weight", dim, kv),
              get(file, b + "attn_output.weight", q, dim),
              config.qkvBias() ? get(file, b + "attn_q.bias", q) : null,
              config.qkvBias() ? get(file, b + "attn_k.bias", kv) : null,
              config.qkvBias() ? get(file, b + "attn_v.bias", kv) : null,
              config.qkNorm() ? get(file, b + "attn_q_norm.weight", config.headDim()) : null,
              config.qkNorm() ? get(file, b + "attn_k_norm.weight", config.headDim()) : null,
              get(file, b + "ffn_norm.weight", dim),
              get(file, b + "ffn_gate.weight", dim, ffn),
              get(file, b + "ffn_up.weight", dim, ffn),
              get(file, b + "ffn_down.weight", ffn, dim)));
    }
    return new LlamaWeights(embd, out, outNorm, layers);
  }

  private static GgufTensor get(GgufFile file, String name, long... shape) {
    GgufTensor t = file.tensor(name);
    long[] s = t.shape();
    boolean ok = true;
    for (int i = 0; i < Math.max(s.length, shape.length); i++) {
      if (t.dim(i) != (i < shape.length ? shape[i] : 1)) {
        ok = false;
      }
    }
    if (!ok) {
      throw new ModelFormatException(
          file.path()
              + ": tensor "
              + name
              + " has shape "
              + Arrays.toString(s)
              + ", expected "
              + Arrays.toString(shape));
    }
    return t;
  }
}
