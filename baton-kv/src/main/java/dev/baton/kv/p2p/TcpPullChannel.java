package dev.baton.kv.p2p;

import dev.baton.kv.KvCacheView;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/** Blocks streamed over the socket straight into the local blocks (scatter read, no heap copy). */
final class TcpPullChannel extends PullChannel {

  TcpPullChannel(KvCacheView memory) {
    super(memory);
  }

  @Override
  byte mode() {
    return Wire.MODE_STREAM;
  }

  @Override
  String name() {
    return "tcp";
  }

  @Override
  TransferResult receive(String peer, PeerConnection connection, ReadOk header, int[] localIds)
      throws IOException {
    ByteBuffer[] targets = new ByteBuffer[header.count()];
    for (int i = 0; i < targets.length; i++) {
      targets[i] = memory.block(localIds[i]).asByteBuffer();
    }
    long total = header.count() * header.blockBytes();
    long remaining = total;
    while (remaining > 0) {
      long n = connection.channel().read(targets);
      if (n < 0) {
        throw new EOFException("peer closed the connection mid-transfer");
      }
      remaining -= n;
    }
    return TransferResult.ok(total, name());
  }
}
