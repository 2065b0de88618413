package dev.baton.cuda;

import java.lang.foreign.MemorySegment;

/**
 * One GPU opened for computing: the driver, the device's primary context, and what the runner needs
 * to know about it. Libraries are opened once per process ({@link #open}).
 *
 * @param ordinal the device number ({@code --device})
 * @param name the device's name ({@code NVIDIA H200})
 * @param major compute capability major
 * @param minor compute capability minor
 */
public record CudaDevice(
    CudaLibraries libraries,
    CudaDriver driver,
    MemorySegment context,
    int ordinal,
    String name,
    int major,
    int minor) {

  /**
   * Opens device {@code ordinal}; a missing library or device is a one-line {@link CudaException}.
   */
  public static CudaDevice open(int ordinal) {
    CudaLibraries libs = CudaLibraries.discover();
    CudaDriver driver = CudaDriver.load(libs);
    int count = driver.deviceCount();
    if (ordinal >= count) {
      throw new CudaException("no CUDA device " + ordinal + " (this machine has " + count + ")");
    }
    int dev = driver.device(ordinal);
    MemorySegment ctx = driver.primaryContext(dev);
    driver.makeCurrent(ctx);
    return new CudaDevice(
        libs,
        driver,
        ctx,
        ordinal,
        driver.deviceName(dev),
        driver.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR),
        driver.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR));
  }

  /** Makes this device's context current on the calling thread. */
  public void makeCurrent() {
    driver.makeCurrent(context);
  }

  @Override
  public String toString() {
    return name + " (cuda:" + ordinal + ", sm_" + major + minor + ")";
  }
}
