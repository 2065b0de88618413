package dev.baton.kv.p2p;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.config.ConfigNode;
import dev.baton.kv.SharedMemoryRegion;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * Options of the {@code P2pConnector}, read from {@code kv_connector_extra_config}. The secret is
 * given inline ({@code secret}) or as a file ({@code secret_file}); {@link #toString()} never shows
 * it.
 *
 * @param bindHost address the block server listens on (loopback unless configured)
 * @param port block server port; 0 picks a free one
 * @param advertiseHost host put into {@code remote_host} for decode workers; defaults to bindHost
 * @param transport auto, tcp or shm
 * @param lease how long a finished prefill's blocks wait for their decode pull
 * @param timeout deadline of one pull or release, connect included
 * @param secret inline cluster secret, or null
 * @param secretFile file holding the cluster secret, or null
 * @param shmDir where the pool's shared-memory file lives
 * @param maxConnections authenticated connections the block server serves at once
 * @param maxConcurrentPulls pulls one consumer runs at once
 * @param peers where this worker may pull from ({@code host} or {@code host:port}; {@code *} allows
 *     any); empty means loopback only. Never taken from a request (docs/SECURITY.md).
 * @param handshakeTimeout how long the block server waits for a connection to authenticate
 * @param maxPendingHandshakes unauthenticated connections the block server holds at once
 */
public record P2pOptions(
    String bindHost,
    int port,
    String advertiseHost,
    Transport transport,
    Duration lease,
    Duration timeout,
    String secret,
    Path secretFile,
    Path shmDir,
    int maxConnections,
    int maxConcurrentPulls,
    java.util.List<String> peers,
    Duration handshakeTimeout,
    int maxPendingHandshakes) {

  /** Environment variable holding the cluster secret when no flag or config gives one. */
  public static final String SECRET_ENV = "BATON_KV_SECRET";

  /** Shortest secret accepted: guessing must stay hopeless. */
  public static final int MIN_SECRET_BYTES = 16;

  private static final Set<String> KEYS =
      Set.of(
          "host",
          "port",
          "advertise_host",
          "transport",
          "lease_seconds",
          "timeout_ms",
          "secret",
          "secret_file",
          "shm_dir",
          "max_connections",
          "max_concurrent_pulls",
          "peers",
          "handshake_timeout_ms",
          "max_pending_handshakes");

  public P2pOptions {
    if (bindHost == null || bindHost.isBlank()) {
      throw new IllegalArgumentException("host must not be empty");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in 0..65535, got " + port);
    }
    if (advertiseHost == null || advertiseHost.isBlank()) {
      advertiseHost = bindHost;
    }
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease_seconds must be positive");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout_ms must be positive");
    }
    if (maxConnections < 1 || maxConcurrentPulls < 1) {
      throw new IllegalArgumentException("max_connections and max_concurrent_pulls must be >= 1");
    }
    peers = peers == null ? java.util.List.of() : java.util.List.copyOf(peers);
    PeerAllowlist.of(peers); // rejects malformed entries now
    if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
      throw new IllegalArgumentException("handshake_timeout_ms must be positive");
    }
    if (maxPendingHandshakes < 1) {
      throw new IllegalArgumentException("max_pending_handshakes must be >= 1");
    }
    if (secret != null && secretFile != null) {
      throw new IllegalArgumentException("give either secret or secret_file, not both");
    }
    if (secret != null && secret.getBytes(StandardCharsets.UTF_8).length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "secret must be at least " + MIN_SECRET_BYTES + " bytes long");
    }
  }

  /** Defaults: loopback, free port, auto transport, 30 s lease, 10 s timeout, no secret yet. */
  public static P2pOptions defaults() {
    return new P2pOptions(
        "127.0.0.1",
        0,
        null,
        Transport.AUTO,
        Duration.ofSeconds(30),
        Duration.ofSeconds(10),
        null,
        null,
        SharedMemoryRegion.DEFAULT_DIR,
        256,
        8,
        java.util.List.of(),
        Duration.ofSeconds(2),
        64);
  }

  /** Reads options from a {@code kv_connector_extra_config} object; unknown keys are errors. */
  public static P2pOptions fromJson(JsonNode extra) {
    P2pOptions d = defaults();
    ConfigNode n = ConfigNode.strict("kv_connector_extra_config", extra);
    n.only(KEYS.toArray(String[]::new));
    String secretFile = n.text("secret_file", null);
    return new P2pOptions(
        n.text("host", d.bindHost()),
        n.integer("port", d.port()),
        n.text("advertise_host", null),
        Transport.fromWireName(n.text("transport", d.transport().wireName())),
        Duration.ofMillis(
            Math.round(n.decimal("lease_seconds", d.lease().toMillis() / 1000.0) * 1000)),
        Duration.ofMillis(n.integer("timeout_ms", (int) d.timeout().toMillis())),
        n.text("secret", null),
        secretFile == null ? null : Path.of(secretFile),
        Path.of(n.text("shm_dir", d.shmDir().toString())),
        n.integer("max_connections", d.maxConnections()),
        n.integer("max_concurrent_pulls", d.maxConcurrentPulls()),
        n.strings("peers"),
        Duration.ofMillis(n.integer("handshake_timeout_ms", (int) d.handshakeTimeout().toMillis())),
        n.integer("max_pending_handshakes", d.maxPendingHandshakes()));
  }

  /** Where this worker may pull KV from. */
  public PeerAllowlist allowlist() {
    return PeerAllowlist.of(peers);
  }

  /** A copy with the secret replaced (the {@code --kv-secret} flag wins over the config). */
  public P2pOptions withSecret(String newSecret) {
    return new P2pOptions(
        bindHost,
        port,
        advertiseHost,
        transport,
        lease,
        timeout,
        newSecret,
        null,
        shmDir,
        maxConnections,
        maxConcurrentPulls,
        peers,
        handshakeTimeout,
        maxPendingHandshakes);
  }

  /** A copy with the secret read from {@code file} (the {@code --kv-secret-file} flag). */
  public P2pOptions withSecretFile(Path file) {
    return new P2pOptions(
        bindHost,
        port,
        advertiseHost,
        transport,
        lease,
        timeout,
        null,
        file,
        shmDir,
        maxConnections,
        maxConcurrentPulls,
        peers,
        handshakeTimeout,
        maxPendingHandshakes);
  }

  /**
   * The cluster secret's bytes: inline, else the file (trailing newline dropped), else {@value
   * #SECRET_ENV}. Fails clearly when none is configured: the channel never runs unauthenticated.
   */
  public byte[] resolveSecret() {
    byte[] bytes;
    if (secret != null) {
      bytes = secret.getBytes(StandardCharsets.UTF_8);
    } else if (secretFile != null) {
      try {
        String text = Files.readString(secretFile, StandardCharsets.UTF_8).strip();
        bytes = text.getBytes(StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read KV secret file " + secretFile, e);
      }
    } else if (System.getenv(SECRET_ENV) != null && !System.getenv(SECRET_ENV).isEmpty()) {
      bytes = System.getenv(SECRET_ENV).getBytes(StandardCharsets.UTF_8);
    } else {
      throw new IllegalArgumentException(
          "the P2P KV channel needs a cluster secret: --kv-secret, --kv-secret-file, "
              + SECRET_ENV
              + ", or secret / secret_file in kv_connector_extra_config");
    }
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "KV secret must be at least " + MIN_SECRET_BYTES + " bytes long");
    }
    return bytes;
  }

  @Override
  public String toString() {
    return "P2pOptions[host="
        + bindHost
        + ", port="
        + port
        + ", advertiseHost="
        + advertiseHost
        + ", transport="
        + transport.wireName()
        + ", lease="
        + lease
        + ", timeout="
        + timeout
        + ", secret="
        + (secret != null ? "<inline>" : secretFile != null ? secretFile : "<none>")
        + ", shmDir="
        + shmDir
        + ", maxConnections="
        + maxConnections
        + ", maxConcurrentPulls="
        + maxConcurrentPulls
        + ", peers="
        + peers
        + ", handshakeTimeout="
        + handshakeTimeout
        + ", maxPendingHandshakes="
        + maxPendingHandshakes
        + "]";
  }
}
