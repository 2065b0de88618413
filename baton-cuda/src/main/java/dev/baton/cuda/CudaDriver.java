package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver API calls Baton uses, bound through the FFM API. Device pointers are {@code
 * long}s. Every call that fails throws a {@link CudaException} naming the call and CUDA's error
 * name ({@code CUDA_ERROR_OUT_OF_MEMORY}).
 *
 * <p>A context is current per thread: {@link #makeCurrent} must run on every thread that calls in
 * (the runner does it at the start of each step).
 */
@SuppressWarnings("restricted") // binding native libraries is this class's job
public final class CudaDriver {

  static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
  static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
  static final int ATTR_MULTIPROCESSOR_COUNT = 16;

  /** Bytes of a CUDA IPC memory handle (CU_IPC_HANDLE_SIZE). */
  public static final int IPC_HANDLE_BYTES = 64;

  private static final MemoryLayout IPC_HANDLE =
      MemoryLayout.structLayout(MemoryLayout.sequenceLayout(IPC_HANDLE_BYTES, JAVA_BYTE));

  /** CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS: memory on another GPU becomes reachable by peer copy. */
  private static final int IPC_LAZY_ENABLE_PEER_ACCESS = 1;

  private final MethodHandle init;
  private final MethodHandle deviceGetCount;
  private final MethodHandle deviceGet;
  private final MethodHandle deviceGetName;
  private final MethodHandle deviceGetAttribute;
  private final MethodHandle primaryCtxRetain;
  private final MethodHandle ctxSetCurrent;
  private final MethodHandle ctxSynchronize;
  private final MethodHandle memAlloc;
  private final MethodHandle memFree;
  private final MethodHandle memcpyHtoD;
  private final MethodHandle memcpyDtoH;
  private final MethodHandle memcpyDtoD;
  private final MethodHandle memsetD8;
  private final MethodHandle memGetInfo;
  private final MethodHandle memHostAlloc;
  private final MethodHandle memFreeHost;
  private final MethodHandle moduleLoadData;
  private final MethodHandle moduleGetFunction;
  private final MethodHandle launchKernel;
  private final MethodHandle getErrorName;
  private final MethodHandle streamCreate;
  private final MethodHandle streamSynchronize;
  private final MethodHandle memcpyHtoDAsync;
  private final MethodHandle memcpyDtoHAsync;
  private final MethodHandle streamBeginCapture;
  private final MethodHandle streamEndCapture;
  private final MethodHandle graphInstantiate;
  private final MethodHandle graphLaunch;
  private final MethodHandle graphExecDestroy;
  private final MethodHandle graphDestroy;
  private final MethodHandle memcpyDtoDAsync;
  private final MethodHandle ipcGetMemHandle;
  private final MethodHandle ipcOpenMemHandle;
  private final MethodHandle ipcCloseMemHandle;
  private final MethodHandle deviceGetUuid;
  private final Arena arena = Arena.ofShared();

  private CudaDriver(SymbolLookup lib) {
    init = fn(lib, "cuInit", JAVA_INT);
    deviceGetCount = fn(lib, "cuDeviceGetCount", ADDRESS);
    deviceGet = fn(lib, "cuDeviceGet", ADDRESS, JAVA_INT);
    deviceGetName = fn(lib, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
    deviceGetAttribute = fn(lib, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
    primaryCtxRetain = fn(lib, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
    ctxSetCurrent = fn(lib, "cuCtxSetCurrent", ADDRESS);
    ctxSynchronize = fn(lib, "cuCtxSynchronize");
    memAlloc = fn(lib, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
    memFree = fn(lib, "cuMemFree_v2", JAVA_LONG);
    memcpyHtoD = fn(lib, "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
    memcpyDtoH = fn(lib, "cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
    memcpyDtoD = fn(lib, "cuMemcpyDtoD_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
    memsetD8 = fn(lib, "cuMemsetD8_v2", JAVA_LONG, JAVA_BYTE, JAVA_LONG);
    memGetInfo = fn(lib, "cuMemGetInfo_v2", ADDRESS, ADDRESS);
    memHostAlloc = fn(lib, "cuMemHostAlloc", ADDRESS, JAVA_LONG, JAVA_INT);
    memFreeHost = fn(lib, "cuMemFreeHost", ADDRESS);
    moduleLoadData = fn(lib, "cuModuleLoadData", ADDRESS, ADDRESS);
    moduleGetFunction = fn(lib, "cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
    launchKernel =
        fn(
            lib,
            "cuLaunchKernel",
            ADDRESS,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            JAVA_INT,
            ADDRESS,
            ADDRESS,
            ADDRESS);
    getErrorName = fn(lib, "cuGetErrorName", JAVA_INT, ADDRESS);
    streamCreate = fn(lib, "cuStreamCreate", ADDRESS, JAVA_INT);
    streamSynchronize = fn(lib, "cuStreamSynchronize", ADDRESS);
    memcpyHtoDAsync = fn(lib, "cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
    memcpyDtoHAsync = fn(lib, "cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
    streamBeginCapture = fn(lib, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
    streamEndCapture = fn(lib, "cuStreamEndCapture", ADDRESS, ADDRESS);
    graphInstantiate = fn(lib, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
    graphLaunch = fn(lib, "cuGraphLaunch", ADDRESS, ADDRESS);
    graphExecDestroy = fn(lib, "cuGraphExecDestroy", ADDRESS);
    graphDestroy = fn(lib, "cuGraphDestroy", ADDRESS);
    memcpyDtoDAsync = fn(lib, "cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
    ipcGetMemHandle = fn(lib, "cuIpcGetMemHandle", ADDRESS, JAVA_LONG);
    // CUipcMemHandle is a 64-byte struct passed by value.
    ipcOpenMemHandle = fn(lib, "cuIpcOpenMemHandle_v2", ADDRESS, IPC_HANDLE, JAVA_INT);
    ipcCloseMemHandle = fn(lib, "cuIpcCloseMemHandle", JAVA_LONG);
    deviceGetUuid = fn(lib, "cuDeviceGetUuid_v2", ADDRESS, JAVA_INT);
  }

  /** Opens the driver library and initializes CUDA. */
  public static CudaDriver load(CudaLibraries libs) {
    CudaDriver d = new CudaDriver(SymbolLookup.libraryLookup(libs.cuda(), Arena.global()));
    d.check(d.call(d.init, 0), "cuInit");
    return d;
  }

  static MethodHandle fn(SymbolLookup lib, String name, MemoryLayout... args) {
    MemorySegment symbol =
        lib.find(name).orElseThrow(() -> new CudaException("symbol " + name + " not found"));
    return Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, args));
  }

  private int call(MethodHandle h, Object... args) {
    try {
      return (int) h.invokeWithArguments(args);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new CudaException(e.toString());
    }
  }

  void check(int result, String what) {
    if (result != 0) {
      throw new CudaException(what + " failed: " + errorName(result));
    }
  }

  private String errorName(int result) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(ADDRESS);
      if ((int) getErrorName.invokeExact(result, out) == 0) {
        return out.get(ADDRESS, 0).reinterpret(256).getString(0) + " (" + result + ")";
      }
    } catch (Throwable e) {
      // fall through to the bare number
    }
    return "CUDA error " + result;
  }

  public int deviceCount() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment n = a.allocate(JAVA_INT);
      check(call(deviceGetCount, n), "cuDeviceGetCount");
      return n.get(JAVA_INT, 0);
    }
  }

  /** The device handle of ordinal {@code ordinal}. */
  public int device(int ordinal) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment d = a.allocate(JAVA_INT);
      check(call(deviceGet, d, ordinal), "cuDeviceGet(" + ordinal + ")");
      return d.get(JAVA_INT, 0);
    }
  }

  public String deviceName(int device) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment name = a.allocate(256);
      check(call(deviceGetName, name, 256, device), "cuDeviceGetName");
      return name.getString(0);
    }
  }

  public int attribute(int device, int attribute) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(JAVA_INT);
      check(call(deviceGetAttribute, v, attribute, device), "cuDeviceGetAttribute");
      return v.get(JAVA_INT, 0);
    }
  }

  /** The device's primary context (shared with every other user of the device in the process). */
  public MemorySegment primaryContext(int device) {
    MemorySegment ctx = arena.allocate(ADDRESS);
    check(call(primaryCtxRetain, ctx, device), "cuDevicePrimaryCtxRetain");
    return ctx.get(ADDRESS, 0);
  }

  public void makeCurrent(MemorySegment context) {
    check(call(ctxSetCurrent, context), "cuCtxSetCurrent");
  }

  public void synchronize() {
    check(call(ctxSynchronize), "cuCtxSynchronize");
  }

  /** {@code bytes} of device memory; the caller frees it with {@link #free}. */
  public long alloc(long bytes) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(JAVA_LONG);
      check(call(memAlloc, p, Math.max(bytes, 1)), "cuMemAlloc(" + bytes + " bytes)");
      return p.get(JAVA_LONG, 0);
    }
  }

  public void free(long pointer) {
    check(call(memFree, pointer), "cuMemFree");
  }

  /**
   * {@code bytes} of page-locked host memory (copies to and from it run at full PCIe speed, without
   * a staging copy); the caller frees it with {@link #freeHost}.
   */
  public MemorySegment hostAlloc(long bytes) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocate(ADDRESS);
      check(call(memHostAlloc, p, Math.max(bytes, 1), 0), "cuMemHostAlloc(" + bytes + " bytes)");
      return p.get(ADDRESS, 0).reinterpret(bytes);
    }
  }

  public void freeHost(MemorySegment memory) {
    check(call(memFreeHost, memory), "cuMemFreeHost");
  }

  public void copyToDevice(long dst, MemorySegment src, long bytes) {
    check(call(memcpyHtoD, dst, src, bytes), "cuMemcpyHtoD");
  }

  public void copyToHost(MemorySegment dst, long src, long bytes) {
    check(call(memcpyDtoH, dst, src, bytes), "cuMemcpyDtoH");
  }

  public void copyDeviceToDevice(long dst, long src, long bytes) {
    check(call(memcpyDtoD, dst, src, bytes), "cuMemcpyDtoD");
  }

  /** Asynchronous on {@code stream} (device to device, also between peer GPUs). */
  public void copyDeviceToDeviceAsync(long dst, long src, long bytes, MemorySegment stream) {
    check(call(memcpyDtoDAsync, dst, src, bytes, stream), "cuMemcpyDtoDAsync");
  }

  /** The CUDA IPC handle of an allocation made by {@link #alloc}, for another process. */
  public byte[] ipcHandle(long pointer) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment handle = a.allocate(IPC_HANDLE);
      check(call(ipcGetMemHandle, handle, pointer), "cuIpcGetMemHandle");
      return handle.toArray(JAVA_BYTE);
    }
  }

  /**
   * Maps another process's allocation (its {@link #ipcHandle}) into this context; on another GPU of
   * the host peer access is enabled on first use. Unmap with {@link #ipcClose}.
   */
  public long ipcOpen(byte[] handle) {
    if (handle.length != IPC_HANDLE_BYTES) {
      throw new IllegalArgumentException("an IPC handle has " + IPC_HANDLE_BYTES + " bytes");
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment h = a.allocate(IPC_HANDLE);
      MemorySegment.copy(handle, 0, h, JAVA_BYTE, 0, handle.length);
      MemorySegment out = a.allocate(JAVA_LONG);
      check(call(ipcOpenMemHandle, out, h, IPC_LAZY_ENABLE_PEER_ACCESS), "cuIpcOpenMemHandle");
      return out.get(JAVA_LONG, 0);
    }
  }

  public void ipcClose(long pointer) {
    check(call(ipcCloseMemHandle, pointer), "cuIpcCloseMemHandle");
  }

  /** The device's UUID (16 bytes), the same in every process. */
  public byte[] deviceUuid(int device) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment uuid = a.allocate(16);
      check(call(deviceGetUuid, uuid, device), "cuDeviceGetUuid");
      return uuid.toArray(JAVA_BYTE);
    }
  }

  public void zero(long pointer, long bytes) {
    check(call(memsetD8, pointer, (byte) 0, bytes), "cuMemsetD8");
  }

  /** {@code [free, total]} bytes of device memory. */
  public long[] memoryInfo() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment free = a.allocate(JAVA_LONG);
      MemorySegment total = a.allocate(JAVA_LONG);
      check(call(memGetInfo, free, total), "cuMemGetInfo");
      return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
    }
  }

  /** Loads a compiled module (cubin or PTX image). */
  public MemorySegment loadModule(byte[] image) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment data = a.allocate(image.length + 1L);
      MemorySegment.copy(image, 0, data, JAVA_BYTE, 0, image.length);
      MemorySegment module = a.allocate(ADDRESS);
      check(call(moduleLoadData, module, data), "cuModuleLoadData");
      return module.get(ADDRESS, 0);
    }
  }

  public MemorySegment function(MemorySegment module, String name) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment f = a.allocate(ADDRESS);
      check(
          call(moduleGetFunction, f, module, a.allocateFrom(name)),
          "cuModuleGetFunction(" + name + ")");
      return f.get(ADDRESS, 0);
    }
  }

  /** A stream that does not synchronize with the legacy default stream. */
  public MemorySegment createStream() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment s = a.allocate(ADDRESS);
      check(call(streamCreate, s, 1), "cuStreamCreate"); // CU_STREAM_NON_BLOCKING
      return s.get(ADDRESS, 0);
    }
  }

  public void synchronize(MemorySegment stream) {
    check(call(streamSynchronize, stream), "cuStreamSynchronize");
  }

  /** Asynchronous on {@code stream}; {@code src} must be page-locked ({@link #hostAlloc}). */
  public void copyToDeviceAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
    check(call(memcpyHtoDAsync, dst, src, bytes, stream), "cuMemcpyHtoDAsync");
  }

  /** Asynchronous on {@code stream}; {@code dst} must be page-locked ({@link #hostAlloc}). */
  public void copyToHostAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
    check(call(memcpyDtoHAsync, dst, src, bytes, stream), "cuMemcpyDtoHAsync");
  }

  /** Starts recording {@code stream}'s work into a graph instead of running it. */
  public void beginCapture(MemorySegment stream) {
    check(call(streamBeginCapture, stream, 2), "cuStreamBeginCapture"); // RELAXED
  }

  /** Ends recording and returns an executable graph of what was recorded. */
  public MemorySegment endCapture(MemorySegment stream) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment graph = a.allocate(ADDRESS);
      check(call(streamEndCapture, stream, graph), "cuStreamEndCapture");
      MemorySegment exec = a.allocate(ADDRESS);
      int r = call(graphInstantiate, exec, graph.get(ADDRESS, 0), 0L);
      call(graphDestroy, graph.get(ADDRESS, 0));
      check(r, "cuGraphInstantiate");
      return exec.get(ADDRESS, 0);
    }
  }

  public void launchGraph(MemorySegment exec, MemorySegment stream) {
    int r;
    try {
      r = (int) graphLaunch.invokeExact(exec, stream);
    } catch (Throwable e) {
      throw new CudaException("cuGraphLaunch: " + e);
    }
    check(r, "cuGraphLaunch");
  }

  public void destroyGraph(MemorySegment exec) {
    check(call(graphExecDestroy, exec), "cuGraphExecDestroy");
  }

  /** Launches on {@code stream}; {@code params} is the kernel's {@code void**} argument array. */
  void launch(
      MemorySegment stream,
      MemorySegment function,
      int gridX,
      int gridY,
      int blockX,
      int sharedBytes,
      MemorySegment params,
      String name) {
    int r;
    try {
      r =
          (int)
              launchKernel.invokeExact(
                  function,
                  gridX,
                  gridY,
                  1,
                  blockX,
                  1,
                  1,
                  sharedBytes,
                  stream,
                  params,
                  MemorySegment.NULL);
    } catch (Throwable e) {
      throw new CudaException("cuLaunchKernel(" + name + "): " + e);
    }
    check(r, "cuLaunchKernel(" + name + ")");
  }
}
