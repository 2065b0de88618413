package dev.baton.core;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The chained hash that names a full block of KV: {@code SHA-256(parent_hash, block token ids,
 * extra keys)}. The engine's prefix cache, the KV connectors and the gateway's prefix index all use
 * it, so the same prompt gets the same block names everywhere.
 *
 * <p>Extra keys (model, KV dtype, {@code cache_salt}) go into every block's hash, so requests with
 * different salts never share a block.
 */
public final class BlockHash {

  /** Hash of "no parent": the first block of a sequence chains from it. */
  public static final byte[] ROOT = new byte[32];

  private BlockHash() {}

  /** Hash of one block given its parent's hash, its token ids and the request's extra keys. */
  public static byte[] of(byte[] parent, int[] tokens, int from, int to, String extraKeys) {
    MessageDigest sha = sha256();
    sha.update(parent);
    ByteBuffer ids = ByteBuffer.allocate(4 * (to - from) + 4);
    ids.putInt(to - from);
    for (int i = from; i < to; i++) {
      ids.putInt(tokens[i]);
    }
    sha.update(ids.array());
    sha.update(extraKeys.getBytes(StandardCharsets.UTF_8));
    return sha.digest();
  }

  /** Chained hashes of every full block of {@code tokens}; partial trailing blocks get none. */
  public static List<byte[]> chain(int[] tokens, int count, int blockSize, String extraKeys) {
    List<byte[]> hashes = new ArrayList<>(count / blockSize);
    byte[] parent = ROOT;
    for (int start = 0; start + blockSize <= count; start += blockSize) {
      parent = of(parent, tokens, start, start + blockSize, extraKeys);
      hashes.add(parent);
    }
    return hashes;
  }

  /** Extra keys string for a model, KV dtype and optional cache salt. */
  public static String extraKeys(String model, String kvDtype, String cacheSalt) {
    return model + "\u0000" + kvDtype + "\u0000" + (cacheSalt == null ? "" : cacheSalt);
  }

  public static String hex(byte[] hash) {
    return HexFormat.of().formatHex(hash);
  }

  /**
   * First 8 bytes as a long: a compact key for in-memory indexes (collisions are harmless there).
   */
  public static long shortKey(byte[] hash) {
    return ByteBuffer.wrap(hash, 0, 8).getLong();
  }

  public static boolean equal(byte[] a, byte[] b) {
    return Arrays.equals(a, b);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks SHA-256", e);
    }
  }
}
