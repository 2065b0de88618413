package dev.baton.control;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How to start another JVM of this installation: the java binary, the JVM flags Baton needs and the
 * class path, taken from the running JVM. The control plane runs {@code baton serve}, {@code baton
 * gateway} and its own supervisor this way, without depending on their classes.
 */
public record Toolchain(String java, List<String> jvmFlags, String classpath) {

  /** The main class of the {@code baton} command. */
  public static final String CLI_MAIN = "dev.baton.cli.Main";

  private static final String DEFAULT_FLAGS =
      "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC"
          + " -Xss4m";

  public Toolchain {
    jvmFlags = List.copyOf(jvmFlags);
  }

  /** The toolchain of the running JVM ({@code BATON_JVM_FLAGS} as bin/baton sets it). */
  public static Toolchain current() {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    String flags = System.getenv().getOrDefault("BATON_JVM_FLAGS", DEFAULT_FLAGS);
    List<String> list =
        Arrays.stream(flags.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
    return new Toolchain(java, list, System.getProperty("java.class.path"));
  }

  /** The command that runs the Baton CLI ({@code baton ...}). */
  public List<String> baton() {
    return javaMain(CLI_MAIN, List.of());
  }

  /** {@code java <flags> <extra> -cp <classpath> <mainClass>}. */
  public List<String> javaMain(String mainClass, List<String> extraJvmFlags) {
    List<String> command = new ArrayList<>();
    command.add(java);
    command.addAll(jvmFlags);
    command.addAll(extraJvmFlags);
    command.add("-cp");
    command.add(classpath);
    command.add(mainClass);
    return command;
  }
}
