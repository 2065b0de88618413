package dev.baton.kv;

/**
 * KV blocks that a runner keeps in device memory (a GPU), in the host view's layout: block {@code
 * i} at byte offset {@code i * blockBytes}. A same-host peer opens this memory by its {@link
 * #exportName} and copies blocks device to device (CUDA IPC; peer copy between two GPUs), so a P/D
 * hand-off between GPUs of one host never goes through host memory (docs/KV_TRANSFER.md).
 */
public interface DeviceKvMemory {

  /**
   * A name of this memory that another process on this host can open ({@link #canOpen}); for CUDA
   * the allocation's IPC handle and the device's UUID. Empty when the memory cannot be shared.
   */
  String exportName();

  /** Whether a peer's exported memory can be opened here (it is then kept open). */
  boolean canOpen(String peerExport);

  /**
   * Copies blocks out of the peer's exported memory: {@code count} blocks, block {@code k} from
   * byte offset {@code peerOffsets[k]} of the peer memory to local block {@code localIds[k]}.
   * Returns once the bytes are in place (visible to this runner's next step).
   *
   * @throws IllegalStateException when the copy fails (the caller falls back or fails the load)
   */
  void copyFromPeer(String peerExport, long[] peerOffsets, int[] localIds);
}
