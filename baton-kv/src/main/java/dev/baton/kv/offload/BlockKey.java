package dev.baton.kv.offload;

import dev.baton.core.BlockHash;
import java.util.Arrays;

/** A block's chained hash as a map key (byte arrays compare by identity). */
public final class BlockKey {

  private final byte[] hash;
  private final int hashCode;

  public BlockKey(byte[] hash) {
    this.hash = hash.clone();
    this.hashCode = Arrays.hashCode(hash);
  }

  /** A copy of the hash bytes. */
  public byte[] bytes() {
    return hash.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BlockKey other && Arrays.equals(hash, other.hash);
  }

  @Override
  public int hashCode() {
    return hashCode;
  }

  @Override
  public String toString() {
    return BlockHash.hex(hash);
  }
}
