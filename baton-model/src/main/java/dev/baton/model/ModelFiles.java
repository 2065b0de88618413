package dev.baton.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Checks a path given as a model before anything reads it, naming what is wrong. */
public final class ModelFiles {

  private ModelFiles() {}

  /** Why {@code path} cannot be a model file, or null when it is a readable regular file. */
  public static String problem(Path path) {
    if (Files.isDirectory(path)) {
      return "model " + path + " is a directory, not a GGUF file";
    }
    if (!Files.exists(path)) {
      return "model file " + path + " not found";
    }
    if (!Files.isRegularFile(path)) {
      return "model " + path + " is not a regular file (a pipe or device?)";
    }
    if (!Files.isReadable(path)) {
      return "model file " + path + " is not readable";
    }
    return null;
  }

  /** Throws IllegalArgumentException with {@link #problem} when there is one. */
  public static Path require(Path path) {
    String problem = problem(path);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return path;
  }
}
