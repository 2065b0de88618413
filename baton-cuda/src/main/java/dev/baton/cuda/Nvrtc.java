package dev.baton.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * NVRTC through the FFM API: compiles CUDA C source to a cubin for the device at run time, so the
 * build needs no CUDA compiler. Compiled images are cached on disk under a key of the source, the
 * options and NVRTC's version ({@link #cacheKey}), so a second start loads instead of compiling.
 */
@SuppressWarnings("restricted") // binding native libraries is this class's job
public final class Nvrtc {

  private final MethodHandle version;
  private final MethodHandle createProgram;
  private final MethodHandle compileProgram;
  private final MethodHandle logSize;
  private final MethodHandle log;
  private final MethodHandle cubinSize;
  private final MethodHandle cubin;
  private final MethodHandle destroyProgram;

  private Nvrtc(SymbolLookup lib) {
    version = CudaDriver.fn(lib, "nvrtcVersion", ADDRESS, ADDRESS);
    createProgram =
        CudaDriver.fn(
            lib, "nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
    compileProgram = CudaDriver.fn(lib, "nvrtcCompileProgram", ADDRESS, JAVA_INT, ADDRESS);
    logSize = CudaDriver.fn(lib, "nvrtcGetProgramLogSize", ADDRESS, ADDRESS);
    log = CudaDriver.fn(lib, "nvrtcGetProgramLog", ADDRESS, ADDRESS);
    cubinSize = CudaDriver.fn(lib, "nvrtcGetCUBINSize", ADDRESS, ADDRESS);
    cubin = CudaDriver.fn(lib, "nvrtcGetCUBIN", ADDRESS, ADDRESS);
    destroyProgram = CudaDriver.fn(lib, "nvrtcDestroyProgram", ADDRESS);
  }

  /** Opens NVRTC (its builtins library first: NVRTC opens that by name). */
  public static Nvrtc load(CudaLibraries libs) {
    return load(libs.nvrtc(), libs.nvrtcBuiltins());
  }

  /** Opens NVRTC from {@code nvrtc}; it needs no GPU, so kernel sources compile on any machine. */
  public static Nvrtc load(Path nvrtc, Optional<Path> builtins) {
    builtins.ifPresent(p -> SymbolLookup.libraryLookup(p, Arena.global()));
    return new Nvrtc(SymbolLookup.libraryLookup(nvrtc, Arena.global()));
  }

  /** NVRTC's version as {@code major.minor}. */
  public String version() {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment major = a.allocate(JAVA_INT);
      MemorySegment minor = a.allocate(JAVA_INT);
      check(call(version, major, minor), "nvrtcVersion", null);
      return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
    }
  }

  /**
   * The cubin of {@code source} compiled with {@code options}, from {@code cacheDir} when an
   * earlier start compiled it (null: no cache). A compile error throws with NVRTC's log.
   */
  public byte[] compile(String name, String source, List<String> options, Path cacheDir) {
    String key = cacheKey(source, options, version());
    Path cached = cacheDir == null ? null : cacheDir.resolve(key + ".cubin");
    if (cached != null && Files.isRegularFile(cached)) {
      try {
        return Files.readAllBytes(cached);
      } catch (IOException e) {
        // An unreadable cache entry is compiled again.
      }
    }
    byte[] image = compileNow(name, source, options);
    if (cached != null) {
      writeAtomically(cached, image);
    }
    return image;
  }

  private byte[] compileNow(String name, String source, List<String> options) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment prog = a.allocate(ADDRESS);
      check(
          call(
              createProgram,
              prog,
              a.allocateFrom(source),
              a.allocateFrom(name),
              0,
              MemorySegment.NULL,
              MemorySegment.NULL),
          "nvrtcCreateProgram",
          null);
      MemorySegment p = prog.get(ADDRESS, 0);
      try {
        MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
        for (int i = 0; i < options.size(); i++) {
          opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
        }
        int r = call(compileProgram, p, options.size(), opts);
        check(r, "compiling " + name + " " + options, r != 0 ? programLog(a, p) : null);
        MemorySegment size = a.allocate(JAVA_LONG);
        check(call(cubinSize, p, size), "nvrtcGetCUBINSize", null);
        MemorySegment out = a.allocate(size.get(JAVA_LONG, 0));
        check(call(cubin, p, out), "nvrtcGetCUBIN", null);
        return out.toArray(JAVA_BYTE);
      } finally {
        call(destroyProgram, prog);
      }
    }
  }

  private String programLog(Arena a, MemorySegment p) {
    MemorySegment size = a.allocate(JAVA_LONG);
    if (call(logSize, p, size) != 0) {
      return "";
    }
    MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
    call(log, p, text);
    return text.getString(0);
  }

  /** SHA-256 over the source, the options and NVRTC's version (hex). */
  static String cacheKey(String source, List<String> options, String nvrtcVersion) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(source.getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(String.join("\u0001", options).getBytes(StandardCharsets.UTF_8));
      sha.update((byte) 0);
      sha.update(nvrtcVersion.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void writeAtomically(Path target, byte[] bytes) {
    try {
      Files.createDirectories(target.getParent());
      Path tmp = Files.createTempFile(target.getParent(), "cubin", ".tmp");
      Files.write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the kernel cache " + target, e);
    }
  }

  private static int call(MethodHandle h, Object... args) {
    try {
      return (int) h.invokeWithArguments(args);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new CudaException(e.toString());
    }
  }

  private static void check(int result, String what, String log) {
    if (result != 0) {
      throw new CudaException(
          what + " failed: NVRTC error " + result + (log == null ? "" : "\n" + log.strip()));
    }
  }
}
