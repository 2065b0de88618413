package dev.baton.kv;

/**
 * Outcome of a transfer-channel operation. Everything but {@link #OK} is an expected failure that
 * callers act on (retry, recompute, fail the request); none is thrown.
 */
public enum TransferStatus {
  OK(0),
  /** The peer's secret differs from ours (or it is no Baton block server). */
  AUTH_FAILED(1),
  /** Model, block size, dtype or dimensions differ between the two workers. */
  LAYOUT_MISMATCH(2),
  /** No live lease with this request id and token: unknown, released or expired. */
  LEASE_NOT_FOUND(3),
  /** A requested block is not part of the lease. */
  BLOCK_NOT_IN_LEASE(4),
  /** The peer could not parse the request. */
  BAD_REQUEST(5),
  /** Shared memory was forced but is not possible with this peer. */
  SHM_UNAVAILABLE(6),
  /** The peer has too many connections. */
  BUSY(7),
  /** Connect refused, connection reset, peer process gone. */
  PEER_UNREACHABLE(8),
  /** The operation ran past its deadline. */
  TIMEOUT(9),
  /** The peer spoke something other than the Baton KV protocol. */
  PROTOCOL_ERROR(10),
  /** The request's kv_transfer_params cannot drive a pull. */
  BAD_PARAMS(11),
  /** This side is shutting down. */
  CLOSED(12);

  private final int code;

  TransferStatus(int code) {
    this.code = code;
  }

  /** The status's byte on the wire. */
  public int code() {
    return code;
  }

  public static TransferStatus fromCode(int code) {
    for (TransferStatus status : values()) {
      if (status.code == code) {
        return status;
      }
    }
    return PROTOCOL_ERROR;
  }
}
