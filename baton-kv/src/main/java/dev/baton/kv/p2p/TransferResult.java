package dev.baton.kv.p2p;

import dev.baton.kv.TransferStatus;

/**
 * What one pull or release did.
 *
 * @param status OK or why not
 * @param message human-readable detail (empty when OK)
 * @param bytes block bytes copied into local memory
 * @param path "tcp" or "shm" (the path that carried the bytes), or "" when nothing moved
 */
public record TransferResult(TransferStatus status, String message, long bytes, String path) {

  public static TransferResult ok(long bytes, String path) {
    return new TransferResult(TransferStatus.OK, "", bytes, path);
  }

  public static TransferResult failed(TransferStatus status, String message) {
    return new TransferResult(status, message, 0, "");
  }

  public boolean isOk() {
    return status == TransferStatus.OK;
  }
}
