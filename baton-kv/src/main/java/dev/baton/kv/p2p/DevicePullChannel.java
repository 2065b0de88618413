package dev.baton.kv.p2p;

import dev.baton.kv.DeviceKvMemory;
import dev.baton.kv.TransferStatus;
import java.io.IOException;

/**
 * Blocks copied device to device out of a same-host peer's exported device memory (CUDA IPC: the
 * peer's allocation opened in this process, then one device copy per block; between two GPUs a peer
 * copy). The server only names offsets and keeps the lease pinned until UNPIN or RELEASE, as for
 * shared memory. The host views of the blocks are not touched: the connector reports the blocks so
 * the engine does not copy its stale host copy over them ({@code takeDeviceLoadedBlocks}).
 */
final class DevicePullChannel extends PullChannel {

  DevicePullChannel(dev.baton.kv.KvCacheView memory) {
    super(memory);
  }

  @Override
  byte mode() {
    return Wire.MODE_DEVICE;
  }

  @Override
  String name() {
    return "device";
  }

  @Override
  TransferResult receive(String peer, PeerConnection connection, ReadOk header, int[] localIds)
      throws IOException, PullFailure {
    DeviceKvMemory device =
        memory
            .device()
            .orElseThrow(
                () ->
                    new PullFailure(
                        TransferStatus.SHM_UNAVAILABLE, "this worker keeps no device memory"));
    int count = header.count();
    long blockBytes = header.blockBytes();
    long peerBytes = connection.blocks() * blockBytes;
    long[] offsets = new long[count];
    for (int i = 0; i < count; i++) {
      offsets[i] = Wire.getLong(header.rest());
      if (offsets[i] < 0 || offsets[i] % blockBytes != 0 || offsets[i] > peerBytes - blockBytes) {
        throw new Wire.ProtocolException("block offset outside the peer's memory");
      }
    }
    try {
      device.copyFromPeer(connection.deviceExport(), offsets, localIds);
    } catch (RuntimeException e) {
      throw new PullFailure(
          TransferStatus.SHM_UNAVAILABLE, "device copy failed: " + e.getMessage());
    }
    return TransferResult.ok(count * blockBytes, name());
  }
}
