package dev.baton.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where the CUDA shared libraries are: the driver ({@code libcuda.so.1}), cuBLAS (with cuBLASLt,
 * which it needs) and NVRTC (with its builtins). Searched, in order: {@code BATON_CUDA_LIB_DIR}
 * (colon-separated), {@code LD_LIBRARY_PATH}, {@code CUDA_HOME}/{@code CUDA_PATH} and {@code
 * /usr/local/cuda} ({@code lib64}, {@code targets/x86_64-linux/lib}), the Python wheels' {@code
 * site-packages/nvidia/<name>/lib} under the usual Python prefixes, then the system library
 * folders. The first folder holding a library wins; for versioned names ({@code libcublas.so.13})
 * the highest version in that folder wins.
 *
 * <p>Pure file-system work, so it is tested without a GPU; {@link #describeMissing} is the one line
 * a user sees when something is not there.
 *
 * @param cuda the driver library
 * @param cublas cuBLAS
 * @param cublasLt cuBLASLt (loaded first: cuBLAS links against it)
 * @param nvrtc NVRTC
 * @param nvrtcBuiltins NVRTC's builtins library (loaded first: NVRTC opens it by name)
 */
public record CudaLibraries(
    Path cuda, Path cublas, Path cublasLt, Path nvrtc, Optional<Path> nvrtcBuiltins) {

  /** The library prefixes looked for, and the wheel folder each lives in. */
  private static final Map<String, String> WHEEL_FOLDER =
      Map.of(
          "libcuda.so", "cuda_runtime",
          "libcublas.so", "cublas",
          "libcublasLt.so", "cublas",
          "libnvrtc.so", "cuda_nvrtc",
          "libnvrtc-builtins.so", "cuda_nvrtc");

  /**
   * Finds the libraries from the process environment; throws {@link CudaException} if any lacks.
   */
  public static CudaLibraries discover() {
    return discover(System.getenv(), searchPath(System.getenv()));
  }

  /** Finds the libraries in {@code dirs} (tests pass their own folders). */
  static CudaLibraries discover(Map<String, String> env, List<Path> dirs) {
    Optional<Path> cuda = find(dirs, "libcuda.so");
    Optional<Path> cublas = find(dirs, "libcublas.so");
    Optional<Path> cublasLt = find(dirs, "libcublasLt.so");
    Optional<Path> nvrtc = find(dirs, "libnvrtc.so");
    List<String> missing = new ArrayList<>();
    if (cuda.isEmpty()) {
      missing.add("libcuda.so.1 (the NVIDIA driver)");
    }
    if (cublas.isEmpty() || cublasLt.isEmpty()) {
      missing.add("libcublas/libcublasLt");
    }
    if (nvrtc.isEmpty()) {
      missing.add("libnvrtc");
    }
    if (!missing.isEmpty()) {
      throw new CudaException(describeMissing(missing, env));
    }
    return new CudaLibraries(
        cuda.get(), cublas.get(), cublasLt.get(), nvrtc.get(), find(dirs, "libnvrtc-builtins.so"));
  }

  /** One line: what is missing, where it was looked for, and how to point Baton at it. */
  static String describeMissing(List<String> missing, Map<String, String> env) {
    String hint =
        env.containsKey("BATON_CUDA_LIB_DIR")
            ? "BATON_CUDA_LIB_DIR=" + env.get("BATON_CUDA_LIB_DIR") + " does not hold them"
            : "install the NVIDIA driver and CUDA 12+, or set BATON_CUDA_LIB_DIR";
    return "no CUDA GPU support here: "
        + String.join(", ", missing)
        + " not found (searched BATON_CUDA_LIB_DIR, LD_LIBRARY_PATH, /usr/local/cuda, Python"
        + " nvidia/*/lib wheels, system library folders); "
        + hint;
  }

  /** The folders searched, in order, for this environment. */
  static List<Path> searchPath(Map<String, String> env) {
    Set<Path> dirs = new LinkedHashSet<>();
    splitInto(env.get("BATON_CUDA_LIB_DIR"), dirs);
    splitInto(env.get("LD_LIBRARY_PATH"), dirs);
    for (String home :
        new String[] {env.get("CUDA_HOME"), env.get("CUDA_PATH"), "/usr/local/cuda"}) {
      if (home != null && !home.isBlank()) {
        dirs.add(Path.of(home, "lib64"));
        dirs.add(Path.of(home, "targets", "x86_64-linux", "lib"));
        dirs.add(Path.of(home, "lib"));
      }
    }
    // The driver's own folders (containers mount it here) before the Python wheels.
    dirs.add(Path.of("/usr/local/nvidia/lib64"));
    dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
    dirs.add(Path.of("/usr/lib64"));
    dirs.addAll(wheelDirs(env));
    dirs.add(Path.of("/usr/lib"));
    return List.copyOf(dirs);
  }

  /** {@code site-packages/nvidia/<lib>/lib} under the virtualenv and the usual Python prefixes. */
  static List<Path> wheelDirs(Map<String, String> env) {
    List<Path> prefixes = new ArrayList<>();
    if (env.get("VIRTUAL_ENV") != null) {
      prefixes.add(Path.of(env.get("VIRTUAL_ENV")));
    }
    if (env.get("HOME") != null) {
      prefixes.add(Path.of(env.get("HOME"), ".local"));
    }
    prefixes.add(Path.of("/opt/torch/.venv"));
    prefixes.add(Path.of("/usr/local"));
    prefixes.add(Path.of("/usr"));
    List<Path> out = new ArrayList<>();
    for (Path prefix : prefixes) {
      for (Path lib : children(prefix.resolve("lib"), "python3*")) {
        for (String packages : new String[] {"site-packages", "dist-packages"}) {
          Path nvidia = lib.resolve(packages).resolve("nvidia");
          for (String folder : new LinkedHashSet<>(WHEEL_FOLDER.values())) {
            out.add(nvidia.resolve(folder).resolve("lib"));
          }
          // CUDA 13 wheels put every library in one folder.
          out.add(nvidia.resolve("cu13").resolve("lib"));
        }
      }
    }
    return out;
  }

  /** The first folder holding {@code prefix} (exact, or {@code prefix.N...}), highest version. */
  static Optional<Path> find(List<Path> dirs, String prefix) {
    for (Path dir : dirs) {
      if (!Files.isDirectory(dir)) {
        continue;
      }
      Optional<Path> best =
          children(dir, prefix + "*").stream()
              .filter(p -> matches(p.getFileName().toString(), prefix))
              .filter(Files::isRegularFile)
              .max(Comparator.comparing(p -> versionKey(p.getFileName().toString(), prefix)));
      if (best.isPresent()) {
        return best;
      }
    }
    return Optional.empty();
  }

  /**
   * {@code libcublas.so}, {@code libcublas.so.13}, {@code libcublas.so.13.0.1}: not {@code
   * libcublasLt.so}.
   */
  private static boolean matches(String name, String prefix) {
    return name.equals(prefix)
        || (name.startsWith(prefix + ".") && name.length() > prefix.length() + 1);
  }

  /** Sortable version: each dotted number zero-padded, so 13 > 12.8 and 12.10 > 12.9. */
  private static String versionKey(String name, String prefix) {
    StringBuilder key = new StringBuilder();
    for (String part : name.substring(prefix.length()).split("\\.")) {
      if (!part.isEmpty()) {
        key.append(part.matches("\\d+") ? String.format("%08d", Long.parseLong(part)) : part)
            .append('.');
      }
    }
    return key.toString();
  }

  private static List<Path> children(Path dir, String glob) {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, glob)) {
      stream.forEach(out::add);
    } catch (IOException e) {
      // An unreadable folder is one that holds nothing for us.
    }
    out.sort(Comparator.naturalOrder());
    return out;
  }

  private static void splitInto(String value, Set<Path> dirs) {
    if (value == null) {
      return;
    }
    for (String part : value.split(":")) {
      if (!part.isBlank()) {
        dirs.add(Path.of(part));
      }
    }
  }
}
