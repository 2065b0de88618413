package dev.baton.cuda;

import dev.baton.kv.DeviceKvMemory;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The runner's KV cache in GPU memory offered to same-host peers by CUDA IPC. Its export name is
 * {@code cuda-ipc:<device UUID>:<IPC handle>} (hex); a peer's memory is opened once
 * (cuIpcOpenMemHandle; on another GPU of the host peer access is enabled on first use) and blocks
 * are copied device to device on a stream of their own, each run of adjacent blocks in one copy.
 *
 * <p>The export name reaches a peer only inside the KV channel's authenticated handshake, so no
 * client can name memory to copy from. CUDA contexts are current per OS thread and the connector's
 * loads run on virtual threads, so every CUDA call here runs on one platform thread of its own.
 */
final class CudaDeviceKv implements DeviceKvMemory, AutoCloseable {

  private static final System.Logger LOG = System.getLogger(CudaDeviceKv.class.getName());

  static final String PREFIX = "cuda-ipc:";

  private final CudaDriver driver;
  private final CudaKvCache kv;
  private final ExecutorService cudaThread;
  private final MemorySegment stream;
  private final String exportName;
  private final Map<String, Long> opened = new HashMap<>(); // only touched on cudaThread
  private final Set<String> unopenable = new HashSet<>(); // only touched on cudaThread

  CudaDeviceKv(CudaDevice device, CudaKvCache kv) {
    this.driver = device.driver();
    this.kv = kv;
    this.cudaThread =
        Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().daemon().name("baton-cuda-kv-copy").unstarted(r));
    this.stream =
        onCudaThread(
            () -> {
              device.makeCurrent();
              return driver.createStream();
            });
    this.exportName =
        onCudaThread(
            () -> {
              try {
                HexFormat hex = HexFormat.of();
                byte[] uuid = driver.deviceUuid(driver.device(device.ordinal()));
                return PREFIX
                    + hex.formatHex(uuid)
                    + ":"
                    + hex.formatHex(driver.ipcHandle(kv.base));
              } catch (CudaException e) {
                // IPC not supported here (some virtualized GPUs): peers take the host path.
                LOG.log(System.Logger.Level.INFO, "KV cache not exported by CUDA IPC: {0}", e);
                return "";
              }
            });
  }

  @Override
  public String exportName() {
    return exportName;
  }

  @Override
  public boolean canOpen(String peerExport) {
    return onCudaThread(() -> open(peerExport) != 0);
  }

  @Override
  public void copyFromPeer(String peerExport, long[] peerOffsets, int[] localIds) {
    if (peerOffsets.length != localIds.length) {
      throw new IllegalArgumentException("offsets and local blocks differ in number");
    }
    onCudaThread(
        () -> {
          long t0 = System.nanoTime();
          long base = open(peerExport);
          if (base == 0) {
            throw new IllegalStateException("cannot open the peer's device memory");
          }
          long t1 = System.nanoTime();
          long blockBytes = kv.blockBytes;
          int runs = 0;
          for (int i = 0; i < localIds.length; runs++) {
            if (localIds[i] < 0 || localIds[i] >= kv.numBlocks) {
              throw new IllegalArgumentException("no local block " + localIds[i]);
            }
            int run = 1;
            while (i + run < localIds.length
                && localIds[i + run] == localIds[i] + run
                && peerOffsets[i + run] == peerOffsets[i] + run * blockBytes) {
              run++;
            }
            if (localIds[i] + run > kv.numBlocks) {
              throw new IllegalArgumentException("no local block " + (localIds[i] + run - 1));
            }
            driver.copyDeviceToDeviceAsync(
                kv.block(localIds[i]), base + peerOffsets[i], run * blockBytes, stream);
            i += run;
          }
          long t2 = System.nanoTime();
          driver.synchronize(stream);
          LOG.log(
              System.Logger.Level.DEBUG,
              "device copy: {0} blocks in {1} runs: open {2} us, enqueue {3} us, wait {4} us",
              localIds.length,
              runs,
              (t1 - t0) / 1000,
              (t2 - t1) / 1000,
              (System.nanoTime() - t2) / 1000);
          return null;
        });
  }

  /** The peer memory mapped here, opened on first use; 0 when it cannot be. On cudaThread. */
  private long open(String peerExport) {
    Long mapped = opened.get(peerExport);
    if (mapped != null) {
      return mapped;
    }
    if (exportName.isEmpty()
        || peerExport.equals(exportName) // a process cannot open its own handle
        || unopenable.contains(peerExport)
        || !peerExport.startsWith(PREFIX)) {
      return 0;
    }
    try {
      String[] parts = peerExport.substring(PREFIX.length()).split(":");
      if (parts.length != 2) {
        throw new IllegalArgumentException("malformed export name");
      }
      long pointer = driver.ipcOpen(HexFormat.of().parseHex(parts[1]));
      opened.put(peerExport, pointer);
      return pointer;
    } catch (CudaException | IllegalArgumentException e) {
      LOG.log(System.Logger.Level.INFO, "cannot open a peer's KV memory by CUDA IPC: {0}", e);
      unopenable.add(peerExport);
      return 0;
    }
  }

  private <T> T onCudaThread(java.util.concurrent.Callable<T> work) {
    Future<T> f = cudaThread.submit(work);
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      f.cancel(false);
      throw new IllegalStateException("interrupted waiting for a device copy", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  @Override
  public void close() {
    try {
      onCudaThread(
          () -> {
            for (long pointer : opened.values()) {
              try {
                driver.ipcClose(pointer);
              } catch (CudaException e) {
                LOG.log(System.Logger.Level.DEBUG, "cuIpcCloseMemHandle: {0}", e);
              }
            }
            opened.clear();
            return null;
          });
    } finally {
      cudaThread.shutdownNow();
    }
  }
}
