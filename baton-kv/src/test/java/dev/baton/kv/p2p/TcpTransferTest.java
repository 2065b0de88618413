package dev.baton.kv.p2p;

import dev.baton.kv.OffHeapBlockMemory;

/** The block channel over TCP (forced, even though the peer is on this host). */
class TcpTransferTest extends TransferContract {

  @Override
  Transport transport() {
    return Transport.TCP;
  }

  @Override
  String expectedPath() {
    return "tcp";
  }

  @Override
  OffHeapBlockMemory newServerMemory() {
    return OffHeapBlockMemory.allocate(BLOCKS, 16, BLOCK_BYTES, "test");
  }
}
