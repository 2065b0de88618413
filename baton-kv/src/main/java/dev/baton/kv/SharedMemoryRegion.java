package dev.baton.kv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Off-heap memory in a shared-memory file ({@code /dev/shm}), so a process on the same host can map
 * the same bytes. The file is created with mode 0600 under a random name, then unlinked at once
 * while this process keeps it open: peers open it through {@code /proc/<pid>/fd/<n>}. So the memory
 * goes away with this process even after {@code kill -9}, and no file is ever left behind. Where
 * {@code /proc} is missing, the named file stays until {@link #close()}.
 */
public final class SharedMemoryRegion implements AutoCloseable {

  /** Where shared regions go by default. */
  public static final Path DEFAULT_DIR = Path.of("/dev/shm");

  private final Path file;
  private final Path exportPath;
  private final FileChannel channel;
  private final Arena arena;
  private final MemorySegment segment;

  private SharedMemoryRegion(
      Path file, Path exportPath, FileChannel channel, Arena arena, MemorySegment segment) {
    this.file = file;
    this.exportPath = exportPath;
    this.channel = channel;
    this.arena = arena;
    this.segment = segment;
  }

  /** Creates and maps a zero-filled region of {@code bytes} bytes in {@code dir}. */
  public static SharedMemoryRegion create(Path dir, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("shared region size must be positive: " + bytes);
    }
    byte[] name = new byte[12];
    new SecureRandom().nextBytes(name);
    Path path = dir.resolve("baton-kv-" + HexFormat.of().formatHex(name));
    Arena arena = Arena.ofShared();
    FileChannel channel = null;
    try {
      Files.createFile(
          path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
      channel.write(ByteBuffer.allocate(1), bytes - 1); // size the file; tmpfs stays sparse
      MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
      Path viaProc = openFdPath(path);
      if (viaProc != null) {
        Files.delete(path);
        return new SharedMemoryRegion(null, viaProc, channel, arena, segment);
      }
      return new SharedMemoryRegion(path, path, channel, arena, segment);
    } catch (IOException e) {
      arena.close();
      try {
        if (channel != null) {
          channel.close();
        }
        Files.deleteIfExists(path);
      } catch (IOException ignored) {
        // The original failure is the one worth reporting.
      }
      throw new UncheckedIOException("cannot create shared memory region in " + dir, e);
    }
  }

  /** The {@code /proc/<pid>/fd/<n>} link of our open descriptor of {@code path}, or null. */
  private static Path openFdPath(Path path) {
    Path fds = Path.of("/proc/self/fd");
    if (!Files.isDirectory(fds)) {
      return null;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(fds)) {
      for (Path fd : entries) {
        try {
          if (Files.readSymbolicLink(fd).equals(path.toAbsolutePath())) {
            return Path.of("/proc", Long.toString(ProcessHandle.current().pid()), "fd")
                .resolve(fd.getFileName());
          }
        } catch (IOException | UnsupportedOperationException e) {
          // A descriptor closed while we looked; keep scanning.
        }
      }
    } catch (IOException e) {
      return null;
    }
    return null;
  }

  /** The path a same-host peer opens to map this region. */
  public Path exportPath() {
    return exportPath;
  }

  public MemorySegment segment() {
    return segment;
  }

  @Override
  public void close() {
    arena.close();
    try {
      channel.close();
      if (file != null) {
        Files.deleteIfExists(file);
      }
    } catch (IOException ignored) {
      // Nothing useful to do: the descriptor is gone with the process anyway.
    }
  }
}
