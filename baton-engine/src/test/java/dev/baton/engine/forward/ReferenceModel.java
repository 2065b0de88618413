package dev.baton.engine.forward;

import dev.baton.model.GgufFile;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A plain float64 Llama / Qwen2 / Qwen3 forward pass, one token at a time, written for clarity: the
 * oracle the engine's logits are checked against.
 */
final class ReferenceModel {

  private final GgufFile file;
  private final LlamaConfig c;
  private final List<List<double[]>> keys = new ArrayList<>(); // per layer, per position
  private final List<List<double[]>> values = new ArrayList<>();

  ReferenceModel(GgufFile file, LlamaConfig c) {
    this.file = file;
    this.c = c;
    for (int l = 0; l < c.layers(); l++) {
      keys.add(new ArrayList<>());
      values.add(new ArrayList<>());
    }
  }

  private double[] vec(String name) {
    float[] f = file.tensor(name).toFloatArray();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /** y = W x for a GGUF matrix (rows of ne0 elements). */
  private double[] matmul(String name, double[] x) {
    GgufTensor t = file.tensor(name);
    int rows = (int) t.rows();
    double[] y = new double[rows];
    for (int r = 0; r < rows; r++) {
      float[] row = t.row(r);
      double s = 0;
      for (int i = 0; i < row.length; i++) {
        s += row[i] * x[i];
      }
      y[r] = s;
    }
    return y;
  }

  private double[] rmsNorm(double[] x, int off, int len, double[] w) {
    double ss = 0;
    for (int i = 0; i < len; i++) {
      ss += x[off + i] * x[off + i];
    }
    double scale = 1 / Math.sqrt(ss / len + c.rmsEps());
    double[] out = new double[len];
    for (int i = 0; i < len; i++) {
      out[i] = x[off + i] * scale * w[i];
    }
    return out;
  }

  private void rope(double[] v, int off, int pos) {
    int hd = c.headDim();
    float[] factors = c.ropeFreqFactors();
    for (int i = 0; i < hd / 2; i++) {
      double freq = Math.pow(c.ropeTheta(), -2.0 * i / hd) / factors[i];
      double cos = Math.cos(pos * freq);
      double sin = Math.sin(pos * freq);
      int a = c.ropeStyle() == LlamaConfig.RopeStyle.NORMAL ? off + 2 * i : off + i;
      int b = c.ropeStyle() == LlamaConfig.RopeStyle.NORMAL ? off + 2 * i + 1 : off + i + hd / 2;
      double x0 = v[a];
      double x1 = v[b];
      v[a] = x0 * cos - x1 * sin;
      v[b] = x0 * sin + x1 * cos;
    }
  }

  /** Feeds {@code token} at the next position and returns the logits. */
  double[] step(int token) {
    int pos = keys.get(0).size();
    int dim = c.dim();
    int hd = c.headDim();
    double[] x = new double[dim];
    float[] emb = file.tensor("token_embd.weight").row(token);
    for (int i = 0; i < dim; i++) {
      x[i] = emb[i];
    }
    for (int l = 0; l < c.layers(); l++) {
      String b = "blk." + l + ".";
      double[] h = rmsNorm(x, 0, dim, vec(b + "attn_norm.weight"));
      double[] q = matmul(b + "attn_q.weight", h);
      double[] k = matmul(b + "attn_k.weight", h);
      double[] v = matmul(b + "attn_v.weight", h);
      if (c.qkvBias()) {
        add(q, vec(b + "attn_q.bias"));
        add(k, vec(b + "attn_k.bias"));
        add(v, vec(b + "attn_v.bias"));
      }
      for (int hh = 0; hh < c.heads(); hh++) {
        if (c.qkNorm()) {
          System.arraycopy(
              rmsNorm(q, hh * hd, hd, vec(b + "attn_q_norm.weight")), 0, q, hh * hd, hd);
        }
        rope(q, hh * hd, pos);
      }
      for (int hh = 0; hh < c.kvHeads(); hh++) {
        if (c.qkNorm()) {
          System.arraycopy(
              rmsNorm(k, hh * hd, hd, vec(b + "attn_k_norm.weight")), 0, k, hh * hd, hd);
        }
        rope(k, hh * hd, pos);
      }
      keys.get(l).add(k);
      values.get(l).add(v);
      double[] att = new double[c.qDim()];
      int group = c.heads() / c.kvHeads();
      for (int hh = 0; hh < c.heads(); hh++) {
        int g = hh / group;
        double[] s = new double[pos + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= pos; j++) {
          double dot = 0;
          for (int i = 0; i < hd; i++) {
            dot += q[hh * hd + i] * keys.get(l).get(j)[g * hd + i];
          }
          s[j] = dot / Math.sqrt(hd);
          max = Math.max(max, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= pos; j++) {
          s[j] = Math.exp(s[j] - max);
          sum += s[j];
        }
        for (int j = 0; j <= pos; j++) {
          for (int i = 0; i < hd; i++) {
            att[hh * hd + i] += s[j] / sum * values.get(l).get(j)[g * hd + i];
          }
        }
      }
      add(x, matmul(b + "attn_output.weight", att));
      h = rmsNorm(x, 0, dim, vec(b + "ffn_norm.weight"));
      double[] gate = matmul(b + "ffn_gate.weight", h);
      double[] up = matmul(b + "ffn_up.weight", h);
      for (int i = 0; i < gate.length; i++) {
        gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
      }
      add(x, matmul(b + "ffn_down.weight", gate));
    }
    double[] h = rmsNorm(x, 0, dim, vec("output_norm.weight"));
    return matmul(c.tiedEmbeddings() ? "token_embd.weight" : "output.weight", h);
  }

  private static void add(double[] y, double[] x) {
    for (int i = 0; i < y.length; i++) {
      y[i] += x[i];
    }
  }
}
