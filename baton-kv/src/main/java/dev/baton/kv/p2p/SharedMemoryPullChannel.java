package dev.baton.kv.p2p;

import dev.baton.kv.KvCacheView;
import dev.baton.kv.TransferStatus;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Blocks copied straight out of a same-host peer's exported block memory (one memcpy per run of
 * adjacent blocks), the server only naming offsets. The peer's file is mapped read-only once per
 * peer and remapped when the peer restarts with new memory.
 */
final class SharedMemoryPullChannel extends PullChannel {

  /** A peer's shared memory mapped read-only into this process. */
  private record Mapping(String path, Arena arena, MemorySegment segment) {}

  private final Map<String, Mapping> mappings = new HashMap<>();

  SharedMemoryPullChannel(KvCacheView memory) {
    super(memory);
  }

  @Override
  byte mode() {
    return Wire.MODE_SHM;
  }

  @Override
  String name() {
    return "shm";
  }

  /** Whether the peer's memory is (or can now be) mapped here. */
  boolean canMap(String peer, PeerConnection connection) {
    return mapping(peer, connection) != null;
  }

  @Override
  TransferResult receive(String peer, PeerConnection connection, ReadOk header, int[] localIds)
      throws IOException, PullFailure {
    Mapping mapping = mapping(peer, connection);
    if (mapping == null) {
      throw new PullFailure(TransferStatus.SHM_UNAVAILABLE, "the peer's memory mapping went away");
    }
    int count = header.count();
    long blockBytes = header.blockBytes();
    MemorySegment source = mapping.segment();
    long[] offsets = new long[count];
    for (int i = 0; i < count; i++) {
      offsets[i] = Wire.getLong(header.rest());
      if (offsets[i] < 0 || offsets[i] > source.byteSize() - blockBytes) {
        throw new Wire.ProtocolException("block offset outside the peer's memory");
      }
    }
    try {
      // Copy runs that are contiguous on both sides in one call: large copies take the
      // non-temporal memcpy path, which is far faster than block-sized ones (docs/PERFORMANCE.md).
      for (int i = 0; i < count; ) {
        int run = 1;
        while (i + run < count
            && offsets[i + run] == offsets[i] + run * blockBytes
            && localIds[i + run] == localIds[i] + run) {
          run++;
        }
        MemorySegment target = localRun(localIds[i], run);
        if (target != null) {
          MemorySegment.copy(source, offsets[i], target, 0, run * blockBytes);
        } else {
          for (int k = 0; k < run; k++) {
            MemorySegment.copy(
                source, offsets[i + k], memory.block(localIds[i + k]), 0, blockBytes);
          }
        }
        i += run;
      }
    } catch (IllegalStateException e) {
      throw new PullFailure(TransferStatus.CLOSED, "client closed during the copy");
    }
    return TransferResult.ok(count * blockBytes, name());
  }

  /**
   * One segment over local blocks {@code first .. first + count - 1} when they are adjacent in
   * memory (always so in a block-major pool), else null. Same scope as the blocks.
   */
  @SuppressWarnings("restricted")
  private MemorySegment localRun(int first, int count) {
    MemorySegment head = memory.block(first);
    if (count == 1) {
      return head;
    }
    MemorySegment last = memory.block(first + count - 1);
    if (last.address() != head.address() + (count - 1) * memory.blockBytes()) {
      return null;
    }
    return head.reinterpret(count * memory.blockBytes());
  }

  /** The peer's memory mapped here, mapping it on first use; null when it cannot be mapped. */
  private synchronized Mapping mapping(String peer, PeerConnection connection) {
    Mapping current = mappings.get(peer);
    if (current != null && current.path().equals(connection.exportPath())) {
      return current;
    }
    if (current != null) {
      mappings.remove(peer);
      current.arena().close(); // the peer restarted with new memory
    }
    Arena arena = Arena.ofShared();
    try (FileChannel file =
        FileChannel.open(Path.of(connection.exportPath()), StandardOpenOption.READ)) {
      MemorySegment segment = file.map(FileChannel.MapMode.READ_ONLY, 0, file.size(), arena);
      // Fault the page tables in now, once, rather than during the first pulls.
      segment.load();
      Mapping mapping = new Mapping(connection.exportPath(), arena, segment);
      mappings.put(peer, mapping);
      return mapping;
    } catch (IOException | RuntimeException e) {
      arena.close();
      return null;
    }
  }

  /** Forgets a peer's mapping (the peer went away). */
  synchronized void drop(String peer) {
    Mapping mapping = mappings.remove(peer);
    if (mapping != null) {
      mapping.arena().close();
    }
  }

  synchronized void close() {
    for (Mapping mapping : mappings.values()) {
      mapping.arena().close();
    }
    mappings.clear();
  }
}
