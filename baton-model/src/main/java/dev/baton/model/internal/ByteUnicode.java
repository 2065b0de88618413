package dev.baton.model.internal;

/**
 * GPT-2's reversible map between bytes and printable Unicode characters, used by byte-level BPE
 * vocabularies: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in
 * byte order (so a space is 'Ġ' and a newline 'Ċ').
 */
public final class ByteUnicode {
  private static final char[] BYTE_TO_CHAR = new char[256];
  private static final int[] CHAR_TO_BYTE = new int[512];

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      char c = printable ? (char) b : (char) (256 + n++);
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteUnicode() {}

  /** The character standing for byte {@code b} (0..255). */
  public static char toChar(int b) {
    return BYTE_TO_CHAR[b & 0xff];
  }

  /** The byte that {@code c} stands for, or -1 if {@code c} is not a byte-level symbol. */
  public static int toByte(char c) {
    return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
  }

  /** Byte-level form of raw bytes. */
  public static String encode(byte[] bytes, int from, int to) {
    char[] out = new char[to - from];
    for (int i = from; i < to; i++) {
      out[i - from] = BYTE_TO_CHAR[bytes[i] & 0xff];
    }
    return new String(out);
  }

  /**
   * Raw bytes of a byte-level string; returns null if it holds a character that is no byte symbol.
   */
  public static byte[] decode(String s) {
    byte[] out = new byte[s.length()];
    for (int i = 0; i < s.length(); i++) {
      int b = toByte(s.charAt(i));
      if (b < 0) {
        return null;
      }
      out[i] = (byte) b;
    }
    return out;
  }
}
