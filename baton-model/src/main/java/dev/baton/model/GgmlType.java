package dev.baton.model;

/**
 * GGML tensor element types Baton reads, named as the GGUF spec names them. Quantized types store
 * {@link #blockSize} elements in {@link #bytesPerBlock} bytes.
 */
public enum GgmlType {
  F32(0, 1, 4),
  F16(1, 1, 2),
  Q4_0(2, 32, 18),
  Q8_0(8, 32, 34),
  Q4_K(12, 256, 144),
  Q6_K(14, 256, 210),
  BF16(30, 1, 2);

  /** The type id in GGUF tensor info. */
  public final int id;

  /** Elements per block (1 for plain float types). */
  public final int blockSize;

  /** Bytes per block. */
  public final int bytesPerBlock;

  GgmlType(int id, int blockSize, int bytesPerBlock) {
    this.id = id;
    this.blockSize = blockSize;
    this.bytesPerBlock = bytesPerBlock;
  }

  /** Bytes needed for {@code elements} elements; elements must be a multiple of the block size. */
  public long bytesFor(long elements) {
    if (elements % blockSize != 0) {
      throw new IllegalArgumentException(
          name() + " needs a multiple of " + blockSize + " elements, got " + elements);
    }
    return elements / blockSize * bytesPerBlock;
  }

  /** The type with GGUF id {@code id}; an unsupported id is a clear error naming it. */
  public static GgmlType fromId(int id) {
    for (GgmlType t : values()) {
      if (t.id == id) {
        return t;
      }
    }
    String name =
        id >= 0 && id < GGML_NAMES.length && GGML_NAMES[id] != null ? GGML_NAMES[id] : "?";
    throw new IllegalArgumentException(
        "unsupported GGML tensor type "
            + name
            + " (id "
            + id
            + "; Baton reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
  }

  /** ggml's names for all type ids, so that an unsupported one is named in errors. */
  private static final String[] GGML_NAMES = {
    "F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
    "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
    "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", null, null, null, "TQ1_0",
    "TQ2_0", null, null, null, "MXFP4"
  };
}
