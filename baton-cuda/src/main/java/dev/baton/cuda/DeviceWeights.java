package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.baton.model.GgmlQuant;
import dev.baton.model.GgufTensor;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A model's weights in GPU memory. Matrices are converted at load to the compute type ({@link
 * Precision}) from whatever the GGUF holds (F32, F16, BF16, Q8_0, Q4_0, K-quants: dequantized row
 * by row on all cores); norm weights and biases stay fp32. Q, K, V are fused into one matrix and
 * gate, up into another, so each is one GEMM.
 */
final class DeviceWeights implements AutoCloseable {

  /** One block's device pointers (0 where the model has no such tensor). */
  record Layer(
      long attnNorm,
      long qkv,
      long qkvBias,
      long qNorm,
      long kNorm,
      long wo,
      long ffnNorm,
      long gateUp,
      long down) {}

  final long embedding;
  final long output;
  final long outputNorm;
  final long invFreq;
  final Layer[] layers;

  /** Bytes of matrices one decode step reads (every matrix once; the embedding gather aside). */
  final long bytesPerToken;

  private final CudaDriver driver;
  private final List<Long> allocations = new ArrayList<>();
  private final Precision precision;
  private final int elementBytes;

  DeviceWeights(CudaDriver driver, LlamaConfig cfg, LlamaWeights w, Precision precision) {
    this.driver = driver;
    this.precision = precision;
    this.elementBytes = precision.bytes;
    try {
      embedding = matrix(List.of(w.tokenEmbedding()));
      output = w.output() == w.tokenEmbedding() ? embedding : matrix(List.of(w.output()));
      outputNorm = vector(List.of(w.outputNorm()));
      double[] inv = new double[cfg.headDim() / 2];
      for (int i = 0; i < inv.length; i++) {
        inv[i] = cfg.ropeInvFreq(i);
      }
      invFreq = upload(MemorySegment.ofArray(inv), 8L * inv.length);
      layers = new Layer[cfg.layers()];
      long bytes = (long) cfg.vocabSize() * cfg.dim() * elementBytes;
      for (int i = 0; i < layers.length; i++) {
        LlamaWeights.Layer l = w.layers().get(i);
        layers[i] =
            new Layer(
                vector(List.of(l.attnNorm())),
                matrix(List.of(l.wq(), l.wk(), l.wv())),
                l.bq() == null ? 0 : vector(List.of(l.bq(), l.bk(), l.bv())),
                l.qNorm() == null ? 0 : vector(List.of(l.qNorm())),
                l.kNorm() == null ? 0 : vector(List.of(l.kNorm())),
                matrix(List.of(l.wo())),
                vector(List.of(l.ffnNorm())),
                matrix(List.of(l.ffnGate(), l.ffnUp())),
                matrix(List.of(l.ffnDown())));
        bytes +=
            (long) elementBytes
                * cfg.dim()
                * (cfg.qDim() + 2L * cfg.kvDim() + cfg.qDim() + 3L * cfg.ffnDim());
      }
      bytesPerToken = bytes;
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The rows of {@code parts}, one after another, in the compute type. */
  private long matrix(List<GgufTensor> parts) {
    int cols = Math.toIntExact(parts.get(0).rowLength());
    long rows = 0;
    for (GgufTensor t : parts) {
      if (t.rowLength() != cols) {
        throw new IllegalArgumentException(
            t.name() + " has rows of " + t.rowLength() + ", not " + cols);
      }
      rows += t.rows();
    }
    long bytes = rows * cols * elementBytes;
    try (Arena staging = Arena.ofShared()) {
      MemorySegment host = staging.allocate(bytes, 64);
      long rowBase = 0;
      for (GgufTensor t : parts) {
        long base = rowBase;
        IntStream.range(0, Math.toIntExact(t.rows()))
            .parallel()
            .forEach(r -> convertRow(t, r, cols, host, (base + r) * cols * elementBytes));
        rowBase += t.rows();
      }
      return upload(host, bytes);
    }
  }

  private void convertRow(GgufTensor t, int r, int cols, MemorySegment host, long at) {
    float[] row = new float[cols];
    GgmlQuant.dequantize(t.type(), t.data(), r * t.rowBytes(), row, 0, cols);
    switch (precision) {
      case FP32 -> MemorySegment.copy(row, 0, host, JAVA_FLOAT, at, cols);
      case F16 -> {
        for (int i = 0; i < cols; i++) {
          host.set(JAVA_SHORT, at + 2L * i, Float.floatToFloat16(row[i]));
        }
      }
      case BF16 -> {
        for (int i = 0; i < cols; i++) {
          host.set(JAVA_SHORT, at + 2L * i, GgmlQuant.f32ToBf16(row[i]));
        }
      }
    }
  }

  /** fp32 vectors, concatenated. */
  private long vector(List<GgufTensor> parts) {
    List<float[]> values = new ArrayList<>();
    int n = 0;
    for (GgufTensor t : parts) {
      float[] v = t.toFloatArray();
      values.add(v);
      n += v.length;
    }
    float[] all = new float[n];
    int at = 0;
    for (float[] v : values) {
      System.arraycopy(v, 0, all, at, v.length);
      at += v.length;
    }
    return upload(MemorySegment.ofArray(all), 4L * n);
  }

  private long upload(MemorySegment host, long bytes) {
    long p = driver.alloc(bytes);
    allocations.add(p);
    if (host.isNative()) {
      driver.copyToDevice(p, host, bytes);
    } else {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment tmp = a.allocate(bytes, 8);
        tmp.copyFrom(host.asSlice(0, bytes));
        driver.copyToDevice(p, tmp, bytes);
      }
    }
    return p;
  }

  @Override
  public void close() {
    for (long p : allocations) {
      driver.free(p);
    }
    allocations.clear();
  }
}
