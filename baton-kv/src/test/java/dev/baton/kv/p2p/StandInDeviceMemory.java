package dev.baton.kv.p2p;

import dev.baton.kv.DeviceKvMemory;
import dev.baton.kv.KvCacheView;
import dev.baton.kv.OffHeapBlockMemory;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for a GPU's KV memory where CI has no GPU (the real one, baton-cuda's CudaDeviceKv, is
 * checked on the device by bin/gpu-check): "device memory" is an off-heap block memory, exported
 * under a name in a process-wide registry (as a CUDA IPC handle names an allocation to other
 * processes), and {@link #copyFromPeer} copies out of the registered peer memory. It keeps the
 * interface's rules: a memory cannot open its own export, an unknown name cannot be opened.
 */
final class StandInDeviceMemory implements DeviceKvMemory {

  private static final Map<String, OffHeapBlockMemory> EXPORTED = new ConcurrentHashMap<>();

  private final OffHeapBlockMemory memory;
  private final String exportName;
  final AtomicInteger copies = new AtomicInteger();

  StandInDeviceMemory(OffHeapBlockMemory memory) {
    this.memory = memory;
    this.exportName = "standin:" + UUID.randomUUID();
    EXPORTED.put(exportName, memory);
  }

  /** {@code memory} as a connector sees it, with this stand-in as its device side. */
  static KvCacheView viewWithDevice(OffHeapBlockMemory memory, DeviceKvMemory device) {
    return new KvCacheView() {
      @Override
      public int numBlocks() {
        return memory.numBlocks();
      }

      @Override
      public int blockSize() {
        return memory.blockSize();
      }

      @Override
      public long blockBytes() {
        return memory.blockBytes();
      }

      @Override
      public MemorySegment block(int blockId) {
        return memory.block(blockId);
      }

      @Override
      public String layout() {
        return memory.layout();
      }

      @Override
      public Optional<DeviceKvMemory> device() {
        return Optional.of(device);
      }
    };
  }

  void unexport() {
    EXPORTED.remove(exportName);
  }

  @Override
  public String exportName() {
    return exportName;
  }

  @Override
  public boolean canOpen(String peerExport) {
    return !peerExport.equals(exportName) && EXPORTED.containsKey(peerExport);
  }

  @Override
  public void copyFromPeer(String peerExport, long[] peerOffsets, int[] localIds) {
    OffHeapBlockMemory peer = EXPORTED.get(peerExport);
    if (peer == null || peerExport.equals(exportName)) {
      throw new IllegalStateException("cannot open " + peerExport);
    }
    for (int i = 0; i < localIds.length; i++) {
      MemorySegment.copy(
          peer.memory(), peerOffsets[i], memory.block(localIds[i]), 0, memory.blockBytes());
    }
    copies.incrementAndGet();
  }
}
