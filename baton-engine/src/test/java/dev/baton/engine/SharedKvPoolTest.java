package dev.baton.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.kv.SharedMemoryRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;

/** A KV pool in shared memory is the same pool, plus a file a same-host peer can map. */
class SharedKvPoolTest {

  @Test
  void sharedPoolIsMappableFromItsExportedFile() throws Exception {
    try (KvBlockPool pool =
            new KvBlockPool(8, 16, 2, 2, 8, KvBlockPool.Dtype.F16, SharedMemoryRegion.DEFAULT_DIR);
        Arena arena = Arena.ofConfined()) {
      Path file = pool.sharedFile().orElseThrow();
      pool.block(5).set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 0x1234_5678_9abc_def0L);
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
        MemorySegment peer = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
        assertThat(peer.byteSize()).isEqualTo(8 * pool.blockBytes());
        assertThat(peer.get(ValueLayout.JAVA_LONG_UNALIGNED, 5 * pool.blockBytes() + 8))
            .isEqualTo(0x1234_5678_9abc_def0L);
      }
    }
  }

  @Test
  void privatePoolHasNoSharedFile() {
    try (KvBlockPool pool = new KvBlockPool(2, 16, 1, 1, 8, KvBlockPool.Dtype.F32)) {
      assertThat(pool.sharedFile()).isEmpty();
    }
  }
}
