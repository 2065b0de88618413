package dev.baton.control;

import dev.baton.core.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code cpuPinning: true}: every worker runs on its own set of cores, so one machine stands in for
 * separate machines. The cores this process may use are divided evenly into one slot per worker the
 * spec can run at once (the roles' {@code max}, not only the starting count, so scaling out finds
 * free cores); cores that do not divide evenly stay unused. A worker is launched under {@code
 * taskset -c LIST} with {@code --threads} set to its slot's size; the gateway and the supervisor
 * stay unpinned.
 */
public final class CpuPinning {

  private CpuPinning() {}

  /**
   * The cores each worker slot gets, slot {@code i} at index {@code i}.
   *
   * @param taskset the taskset executable workers are launched through
   */
  public record Layout(List<List<Integer>> slots, String taskset) {
    public Layout {
      slots = slots.stream().map(List::copyOf).toList();
    }

    /** Cores per worker (every slot has the same number). */
    public int coresPerWorker() {
      return slots.getFirst().size();
    }
  }

  /**
   * The layout for {@code spec} on this machine: the cores this process may use, divided by the
   * most workers the spec can run at once. Throws {@link IllegalArgumentException} with what to
   * change when that cannot work (more workers than cores, no taskset).
   */
  public static Layout layout(ClusterSpec spec) {
    List<Integer> cores = allowedCores();
    String taskset = findTaskset();
    if (taskset == null) {
      throw new IllegalArgumentException(
          "cpuPinning: true needs the taskset command (util-linux) to pin workers, and none is on"
              + " the PATH; install util-linux or remove cpuPinning");
    }
    return new Layout(divide(cores, peakWorkers(spec), describePeak(spec)), taskset);
  }

  /**
   * Splits {@code cores} into {@code slots} disjoint runs of equal size, in order (neighbouring
   * cores together); the remainder stays unused.
   *
   * @param what names the worker count in the error message
   */
  static List<List<Integer>> divide(List<Integer> cores, int slots, String what) {
    if (slots < 1) {
      throw new IllegalArgumentException("cpuPinning: the spec runs no worker");
    }
    if (slots > cores.size()) {
      throw new IllegalArgumentException(
          "cpuPinning: the spec can run "
              + slots
              + " workers at once ("
              + what
              + ") but this process may use only "
              + cores.size()
              + " core(s) ("
              + format(cores)
              + "): each worker needs a core of its own; lower the roles' max or remove"
              + " cpuPinning");
    }
    int each = cores.size() / slots;
    List<List<Integer>> out = new ArrayList<>();
    for (int s = 0; s < slots; s++) {
      out.add(List.copyOf(cores.subList(s * each, (s + 1) * each)));
    }
    return out;
  }

  /**
   * The most workers the spec can run at once: each pool role's {@code max}; in replica mode the
   * groups' {@code max} times a group's size, plus the colocated pool's {@code max}.
   */
  static int peakWorkers(ClusterSpec spec) {
    int peak = 0;
    for (Map.Entry<Role, ClusterSpec.RoleSpec> e : spec.roles().entrySet()) {
      boolean grouped = spec.mode() == Mode.REPLICA && e.getKey() != Role.BOTH;
      peak += grouped ? spec.groups().max() * e.getValue().replicas() : e.getValue().max();
    }
    return peak;
  }

  private static String describePeak(ClusterSpec spec) {
    List<String> parts = new ArrayList<>();
    for (Map.Entry<Role, ClusterSpec.RoleSpec> e : spec.roles().entrySet()) {
      String role = e.getKey().wireName();
      boolean grouped = spec.mode() == Mode.REPLICA && e.getKey() != Role.BOTH;
      parts.add(
          grouped
              ? "groups.max " + spec.groups().max() + " x " + e.getValue().replicas() + " " + role
              : role + ".max " + e.getValue().max());
    }
    return String.join(" + ", parts);
  }

  /**
   * The cores this process may run on: {@code Cpus_allowed_list} of /proc/self/status (which
   * honours taskset, cgroup cpusets and container limits), else the JVM's processor count from core
   * 0.
   */
  static List<Integer> allowedCores() {
    Path status = Path.of("/proc/self/status");
    try {
      if (Files.isReadable(status)) {
        for (String line : Files.readAllLines(status)) {
          if (line.startsWith("Cpus_allowed_list:")) {
            return parseList(line.substring(line.indexOf(':') + 1));
          }
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      // fall back to the JVM's view below
    }
    List<Integer> cores = new ArrayList<>();
    for (int i = 0; i < Runtime.getRuntime().availableProcessors(); i++) {
      cores.add(i);
    }
    return cores;
  }

  /** Parses a Linux CPU list ({@code 0-3,8-11}, {@code 5}, {@code 0-7:2} is not accepted). */
  public static List<Integer> parseList(String text) {
    TreeSet<Integer> cores = new TreeSet<>();
    String trimmed = text.strip();
    if (trimmed.isEmpty()) {
      throw new IllegalArgumentException("empty CPU list");
    }
    for (String part : trimmed.split(",")) {
      String p = part.strip();
      int dash = p.indexOf('-');
      try {
        int first = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
        int last = dash < 0 ? first : Integer.parseInt(p.substring(dash + 1));
        if (first < 0 || last < first) {
          throw new IllegalArgumentException("bad CPU range '" + p + "' in '" + trimmed + "'");
        }
        for (int c = first; c <= last; c++) {
          cores.add(c);
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad CPU list '" + trimmed + "'", e);
      }
    }
    return List.copyOf(cores);
  }

  /** The CPU-list form of {@code cores}, runs collapsed: {@code [0,1,2,3,8]} is {@code 0-3,8}. */
  public static String format(List<Integer> cores) {
    List<Integer> sorted = new ArrayList<>(new TreeSet<>(cores));
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < sorted.size()) {
      int j = i;
      while (j + 1 < sorted.size() && sorted.get(j + 1) == sorted.get(j) + 1) {
        j++;
      }
      if (!sb.isEmpty()) {
        sb.append(',');
      }
      sb.append(sorted.get(i));
      if (j > i) {
        sb.append('-').append(sorted.get(j));
      }
      i = j + 1;
    }
    return sb.toString();
  }

  /** The taskset executable on the PATH, or {@code null}. */
  static String findTaskset() {
    String path = System.getenv("PATH");
    List<String> dirs =
        new ArrayList<>(List.of((path == null ? "" : path).split(java.io.File.pathSeparator)));
    dirs.addAll(List.of("/usr/bin", "/bin", "/usr/local/bin"));
    for (String dir : dirs) {
      if (dir.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(dir, "taskset");
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return null;
  }
}
