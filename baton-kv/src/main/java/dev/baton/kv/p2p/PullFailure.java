package dev.baton.kv.p2p;

import dev.baton.kv.TransferStatus;

/** An expected failure on the way of a pull: carried out of nested calls, turned into a result. */
final class PullFailure extends Exception {
  private static final long serialVersionUID = 1L;
  final TransferStatus status;

  PullFailure(TransferStatus status, String message) {
    super(message, null, false, false);
    this.status = status;
  }
}
