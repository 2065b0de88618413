package dev.baton.model;

import java.nio.charset.StandardCharsets;

/**
 * Text to token ids and back, built from a GGUF's {@code tokenizer.ggml.*} metadata: byte-level BPE
 * ({@code gpt2}, pre-tokenizer chosen by {@code tokenizer.ggml.pre}) or SentencePiece BPE ({@code
 * llama}, with byte fallback). Implementations are immutable and thread-safe.
 *
 * <p>Special tokens: control tokens (type 3) such as {@code <|eot_id|>} are recognized in text only
 * when {@code parseSpecial} is true; user-defined tokens (type 4) always. {@link #decode(int[])}
 * leaves control tokens out; {@link #decode(int[], boolean)} can render them.
 */
public interface Tokenizer {

  /** GGUF token types (tokenizer.ggml.token_type). */
  int TYPE_NORMAL = 1;

  int TYPE_UNKNOWN = 2;
  int TYPE_CONTROL = 3;
  int TYPE_USER_DEFINED = 4;
  int TYPE_UNUSED = 5;
  int TYPE_BYTE = 6;

  /**
   * Token ids of {@code text}; a BOS first when {@code addBos} and the vocabulary has one; special
   * token strings in the text become their tokens when {@code parseSpecial}.
   */
  int[] encode(String text, boolean addBos, boolean parseSpecial);

  /** Encodes plain text: BOS as the model wants it ({@link #addBosByDefault()}), no specials. */
  default int[] encode(String text) {
    return encode(text, addBosByDefault(), false);
  }

  /** The raw bytes token {@code id} contributes to decoded text (empty for hidden specials). */
  byte[] tokenBytes(int id, boolean renderSpecial);

  /** The token's string as stored in the vocabulary. */
  String token(int id);

  /** Whether decoding drops one leading space that encoding added (SentencePiece). */
  boolean stripsLeadingSpace();

  /** Text of {@code ids}, control tokens left out. Invalid UTF-8 becomes U+FFFD. */
  default String decode(int[] ids) {
    return decode(ids, false);
  }

  /** Text of {@code ids}; control tokens rendered as their text when {@code renderSpecial}. */
  default String decode(int[] ids, boolean renderSpecial) {
    Detokenizer d = new Detokenizer(this, renderSpecial);
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      sb.append(d.push(id));
    }
    return sb.append(d.flush()).toString();
  }

  /**
   * A streaming decoder that never emits half a UTF-8 character, for ids that start a text (see
   * {@link Detokenizer#continuing} for generated tokens that follow a prompt).
   */
  default Detokenizer newDetokenizer() {
    return new Detokenizer(this, false);
  }

  /** Beginning-of-sequence id, or -1 if none. */
  int bosId();

  /** Every end-of-generation id (EOS, EOT, EOM and the like). */
  int[] eosIds();

  /** End-of-turn id (tokenizer.ggml.eot_token_id, or the EOS), or -1. */
  int eotId();

  /** Whether {@code id} ends generation. */
  default boolean isEos(int id) {
    for (int e : eosIds()) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code id} is a control (or unknown) token, hidden when decoding. */
  boolean isSpecial(int id);

  /** Token count. */
  int vocabSize();

  /** Whether the model expects a BOS ({@code tokenizer.ggml.add_bos_token}). */
  boolean addBosByDefault();

  /** The id of token string {@code token}, or -1. */
  int tokenId(String token);

  /** Builds the tokenizer described by {@code file}'s metadata. */
  static Tokenizer fromGguf(GgufFile file) {
    String model = file.getString("tokenizer.ggml.model", null);
    if (model == null) {
      throw new ModelFormatException(file.path() + ": no tokenizer (tokenizer.ggml.model missing)");
    }
    return switch (model) {
      case "gpt2" -> new ByteLevelBpeTokenizer(file);
      case "llama" -> new SentencePieceTokenizer(file);
      default ->
          throw new ModelFormatException(
              file.path()
                  + ": unsupported tokenizer '"
                  + model
                  + "' (Baton reads gpt2 byte-level BPE and llama SentencePiece)");
    };
  }

  /** UTF-8 bytes of a string (helper for implementations). */
  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
