package dev.baton.control;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * A cluster's run directory, {@code $BATON_HOME/run/<name>/} ({@code ~/.baton} by default): the
 * spec, {@code state.json}, the KV secret and control token (owner-only), and the logs. Every
 * command finds the cluster here, whatever its working directory.
 */
public record RunDirectory(String name, Path dir) {

  /** The cluster name used when none is given: one cluster per user by default. */
  public static final String DEFAULT_NAME = "default";

  static final ObjectMapper STATE_MAPPER =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .enable(SerializationFeature.INDENT_OUTPUT);

  /** {@code BATON_HOME} if set, else {@code ~/.baton}. */
  public static Path batonHome() {
    String env = System.getenv("BATON_HOME");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    String prop = System.getProperty("baton.home");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop);
    }
    return Path.of(System.getProperty("user.home"), ".baton");
  }

  public static RunDirectory forName(String name) {
    String checked = SpecParser.checkName(name == null ? DEFAULT_NAME : name);
    return new RunDirectory(checked, batonHome().resolve("run").resolve(checked));
  }

  public Path specFile() {
    return dir.resolve("spec.yaml");
  }

  public Path stateFile() {
    return dir.resolve("state.json");
  }

  public Path logs() {
    return dir.resolve("logs");
  }

  public Path supervisorLog() {
    return logs().resolve("supervisor.log");
  }

  public Path secretFile() {
    return dir.resolve("kv-secret");
  }

  public Path tokenFile() {
    return dir.resolve("control-token");
  }

  public Path gatewayConfig() {
    return dir.resolve("gateway.yaml");
  }

  public boolean hasState() {
    return Files.isRegularFile(stateFile());
  }

  /** Reads {@code state.json}; {@code null} when there is none (no cluster of this name). */
  public ClusterState readState() throws IOException {
    if (!hasState()) {
      return null;
    }
    try {
      return STATE_MAPPER.readValue(stateFile().toFile(), ClusterState.class);
    } catch (IOException e) {
      throw new IOException("cannot read " + stateFile() + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code state.json} atomically (readers never see half a file). */
  public void writeState(ClusterState state) throws IOException {
    Files.createDirectories(dir);
    Path tmp = dir.resolve("state.json.tmp");
    STATE_MAPPER.writeValue(tmp.toFile(), state);
    try {
      Files.move(
          tmp, stateFile(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, stateFile(), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Creates a random secret file (owner read/write only) unless it exists; returns its value. */
  public String secret(Path file) throws IOException {
    if (Files.isRegularFile(file)) {
      return Files.readString(file).strip();
    }
    Files.createDirectories(dir);
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    String value = HexFormat.of().formatHex(bytes);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(
        tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, value);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    return value;
  }
}
