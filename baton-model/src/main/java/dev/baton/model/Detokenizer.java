package dev.baton.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Streaming token-to-text decoder: {@link #push} returns the text that is complete so far and holds
 * back the bytes of a UTF-8 character split across tokens, so a stream never shows half a
 * character. The concatenation of all pushes and {@link #flush} equals {@link
 * Tokenizer#decode(int[])}. Not thread-safe: one per sequence.
 */
public final class Detokenizer {
  private final Tokenizer tokenizer;
  private final boolean renderSpecial;
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
  private boolean started;

  /**
   * A decoder for ids that start a text: SentencePiece's prefix space of the first word is dropped,
   * as {@link Tokenizer#decode(int[])} does.
   */
  public Detokenizer(Tokenizer tokenizer, boolean renderSpecial) {
    this.tokenizer = tokenizer;
    this.renderSpecial = renderSpecial;
  }

  /**
   * A decoder for ids that continue a text, such as generated tokens after a prompt: nothing is
   * dropped, so a SentencePiece "▁Paris" after "The capital is" decodes as " Paris".
   */
  public static Detokenizer continuing(Tokenizer tokenizer, boolean renderSpecial) {
    Detokenizer d = new Detokenizer(tokenizer, renderSpecial);
    d.started = true;
    return d;
  }

  /**
   * A decoder for ids that continue {@code prompt}: the bytes of a character the prompt's last
   * tokens left unfinished are carried over, so the first output token that completes it yields the
   * whole character. A prompt made of text never ends mid-character; one made of token ids may: a
   * stream continued elsewhere from the ids it had streamed (token-exact migration), whose first
   * worker held those bytes back.
   */
  public static Detokenizer continuing(Tokenizer tokenizer, boolean renderSpecial, int[] prompt) {
    Detokenizer d = continuing(tokenizer, renderSpecial);
    ByteArrayOutputStream tail = new ByteArrayOutputStream();
    // A UTF-8 character has at most 4 bytes, so at most the last 4 tokens can hold part of it.
    for (int i = Math.max(0, prompt.length - 4); i < prompt.length; i++) {
      int id = prompt[i];
      if (id >= 0 && id < tokenizer.vocabSize()) {
        tail.writeBytes(tokenizer.tokenBytes(id, renderSpecial));
      }
    }
    byte[] b = tail.toByteArray();
    int complete = completePrefix(b);
    d.pending.write(b, complete, b.length - complete);
    return d;
  }

  /** Adds token {@code id}; returns the newly completed text (possibly empty). */
  public String push(int id) {
    if (id < 0 || id >= tokenizer.vocabSize()) {
      throw new IllegalArgumentException(
          "token id " + id + " is out of the vocabulary (size " + tokenizer.vocabSize() + ")");
    }
    byte[] b = tokenizer.tokenBytes(id, renderSpecial);
    int from = 0;
    if (!started && b.length > 0) {
      started = true;
      if (tokenizer.stripsLeadingSpace() && b[0] == ' ' && !tokenizer.isSpecial(id)) {
        from = 1;
      }
    }
    pending.write(b, from, b.length - from);
    byte[] all = pending.toByteArray();
    int complete = completePrefix(all);
    if (complete == 0) {
      return "";
    }
    pending.reset();
    pending.write(all, complete, all.length - complete);
    return new String(all, 0, complete, StandardCharsets.UTF_8);
  }

  /** Returns whatever is held back (an incomplete character becomes U+FFFD). */
  public String flush() {
    byte[] all = pending.toByteArray();
    pending.reset();
    return new String(all, StandardCharsets.UTF_8);
  }

  /** Length of the longest prefix that does not end inside an unfinished UTF-8 sequence. */
  static int completePrefix(byte[] b) {
    int n = b.length;
    for (int back = 1; back <= Math.min(4, n); back++) {
      int c = b[n - back] & 0xff;
      if ((c & 0xc0) == 0x80) {
        continue; // continuation byte: keep looking for the lead
      }
      int need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
      return back < need ? n - back : n;
    }
    return n;
  }
}
