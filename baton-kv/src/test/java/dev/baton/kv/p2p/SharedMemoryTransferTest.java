package dev.baton.kv.p2p;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.kv.SharedMemoryRegion;
import dev.baton.kv.TransferStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The block channel through the server's shared-memory file (forced). */
class SharedMemoryTransferTest extends TransferContract {

  @Override
  Transport transport() {
    return Transport.SHM;
  }

  @Override
  String expectedPath() {
    return "shm";
  }

  @Override
  OffHeapBlockMemory newServerMemory() {
    return OffHeapBlockMemory.shared(
        SharedMemoryRegion.DEFAULT_DIR, BLOCKS, 16, BLOCK_BYTES, "test");
  }

  @Test
  void sharedFileLeavesNothingBehindInTheDirectory() {
    Path exported = serverMemory.sharedFile().orElseThrow();
    assertThat(exported.toString()).startsWith("/proc/");
    assertThat(Files.isReadable(exported)).isTrue();
  }

  @Test
  void autoPicksSharedMemoryForASameHostPeer() {
    String token = leases.grant("req-auto", new int[] {4});
    try (BlockClient auto =
        new BlockClient(
            clientMemory, SECRET, LAYOUT, Transport.AUTO, Duration.ofSeconds(5), "test-client")) {
      TransferResult result =
          auto.pull("127.0.0.1", port(), "req-auto", token, new int[] {4}, new int[] {0}, true);
      assertThat(result.path()).isEqualTo("shm");
    }
    assertSameBlock(4, 0);
  }

  @Test
  void forcedSharedMemoryFailsCleanlyWhenThePeerExportsNone() throws Exception {
    try (OffHeapBlockMemory plain = OffHeapBlockMemory.allocate(4, 16, BLOCK_BYTES, "test")) {
      TransferResult result = pullFromAnotherServer(plain).result();
      assertThat(result.status()).isEqualTo(TransferStatus.SHM_UNAVAILABLE);
    }
  }
}
