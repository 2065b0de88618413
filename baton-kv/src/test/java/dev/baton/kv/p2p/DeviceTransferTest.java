package dev.baton.kv.p2p;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.kv.KvCacheView;
import dev.baton.kv.OffHeapBlockMemory;
import dev.baton.kv.SharedMemoryRegion;
import dev.baton.kv.TransferStatus;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The block channel's device mode (forced): the server names offsets in its exported device memory,
 * the client copies device to device, over a stand-in for GPU memory (CI has no GPU; the CUDA IPC
 * implementation runs in bin/gpu-check). Every case of the transfer contract holds here too
 * (secret, leases, relays, pins).
 */
class DeviceTransferTest extends TransferContract {

  private StandInDeviceMemory serverDevice;
  private StandInDeviceMemory clientDevice;

  @Override
  Transport transport() {
    return Transport.DEVICE;
  }

  @Override
  String expectedPath() {
    return "device";
  }

  @Override
  OffHeapBlockMemory newServerMemory() {
    return OffHeapBlockMemory.allocate(BLOCKS, 16, BLOCK_BYTES, "test");
  }

  private final java.util.List<StandInDeviceMemory> exported = new java.util.ArrayList<>();

  /** A new export each time (the old one stays open for connections the old server still has). */
  @Override
  KvCacheView serverView(OffHeapBlockMemory memory) {
    serverDevice = new StandInDeviceMemory(memory);
    exported.add(serverDevice);
    return StandInDeviceMemory.viewWithDevice(memory, serverDevice);
  }

  @Override
  KvCacheView clientView(OffHeapBlockMemory memory) {
    StandInDeviceMemory device = new StandInDeviceMemory(memory);
    if (memory == clientMemory && clientDevice == null) {
      clientDevice = device;
    }
    exported.add(device);
    return StandInDeviceMemory.viewWithDevice(memory, device);
  }

  @AfterEach
  void unexport() {
    exported.forEach(StandInDeviceMemory::unexport);
  }

  @Test
  void theBytesMoveThroughTheDeviceCopy() {
    String token = leases.grant("req-dev", new int[] {9, 10, 11});
    TransferResult result =
        client.pull(
            "127.0.0.1",
            port(),
            "req-dev",
            token,
            new int[] {9, 10, 11},
            new int[] {20, 21, 22},
            true);
    assertThat(result.isOk()).isTrue();
    assertThat(result.path()).isEqualTo("device");
    assertThat(clientDevice.copies.get()).isEqualTo(1);
    assertSameBlock(11, 22);
    assertSameBlock(9, 20);
    assertThat(isZero(clientMemory.block(23))).isTrue();
    assertThat(leases.size()).isZero(); // released after the copy, as for shared memory
  }

  @Test
  void autoPrefersTheDeviceAndFallsBackWhenThePeerMemoryCannotBeOpened() throws Exception {
    String token = leases.grant("req-auto", new int[] {4});
    try (BlockClient auto = autoClient(clientView(clientMemory))) {
      TransferResult result =
          auto.pull("127.0.0.1", port(), "req-auto", token, new int[] {4}, new int[] {0}, false);
      assertThat(result.path()).isEqualTo("device");
      assertThat(result.isOk()).isTrue();
    }
    assertSameBlock(4, 0);
    // The peer's device memory went away (its process restarted): auto takes another path.
    serverDevice.unexport();
    try (BlockClient auto = autoClient(clientView(clientMemory))) {
      TransferResult result =
          auto.pull("127.0.0.1", port(), "req-auto", token, new int[] {4}, new int[] {1}, true);
      assertThat(result.isOk()).isTrue();
      assertThat(result.path()).isEqualTo("tcp"); // the server exports no shared file here
    }
    assertSameBlock(4, 1);
  }

  @Test
  void aClientWithoutDeviceMemoryNeverTakesTheDevicePath() {
    String token = leases.grant("req-host", new int[] {6});
    try (BlockClient auto = autoClient(clientMemory)) {
      TransferResult result =
          auto.pull("127.0.0.1", port(), "req-host", token, new int[] {6}, new int[] {2}, true);
      assertThat(result.path()).isEqualTo("tcp");
    }
    assertSameBlock(6, 2);
    assertThat(clientDevice.copies.get()).isZero();
  }

  @Test
  void forcedDeviceFailsCleanlyWhenThePeerExportsNone() throws Exception {
    try (OffHeapBlockMemory plain =
        OffHeapBlockMemory.shared(SharedMemoryRegion.DEFAULT_DIR, 4, 16, BLOCK_BYTES, "test")) {
      OtherServerPull pull = pullFromAnotherServer(plain);
      assertThat(pull.result().status()).isEqualTo(TransferStatus.SHM_UNAVAILABLE);
      assertThat(pull.result().message()).contains("exports no device memory");
      assertThat(isZero(clientMemory.block(0))).isTrue();
      assertThat(pull.leasesLeft()).isEqualTo(1); // nothing was read, the lease is intact
    }
  }

  private BlockClient autoClient(KvCacheView view) {
    return new BlockClient(
        view, SECRET, LAYOUT, Transport.AUTO, Duration.ofSeconds(5), "test-client");
  }
}
