package dev.baton.control;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntPredicate;

/**
 * Picks the ports a cluster hands to its processes before they start.
 *
 * <p>Why not below the kernel's ephemeral range: a port picked by binding port 0 comes from that
 * range, is free only at the moment of the probe, and stays in the range every process draws from
 * when it binds a "*" port (a worker's KV-event and KV-channel sockets) or connects out. A worker
 * that started first could take the port picked for the next one (seen in CI: a worker's replay
 * socket took the next worker's HTTP port, which then never came up). Ports below the range are
 * never handed out by the kernel, so only a process that names one can hold it; the probe bind
 * checks that none does now.
 */
final class PortPicker {
  private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

  /**
   * How many ports below the ephemeral range are tried (from a random place, so two clusters
   * started side by side rarely try the same ones).
   */
  static final int WINDOW = 16_384;

  private final int low;
  private final int high;

  private PortPicker(int low, int high) {
    this.low = low;
    this.high = high;
  }

  /** Ports below this host's ephemeral range; null where the range is unknown (not Linux). */
  static PortPicker belowEphemeralRange() {
    int first = ephemeralRangeStart();
    if (first <= 1024) {
      return null;
    }
    return new PortPicker(Math.max(1024, first - WINDOW), first - 1);
  }

  /** The first port of the kernel's ephemeral range, or -1 where it cannot be read. */
  static int ephemeralRangeStart() {
    try {
      // readAllLines, not readString: on /proc files readString returned only the first byte.
      String[] range = Files.readAllLines(EPHEMERAL_RANGE).getFirst().trim().split("\\s+");
      return Integer.parseInt(range[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  int low() {
    return low;
  }

  int high() {
    return high;
  }

  /**
   * A port of this picker's range that is bindable on {@code host} now and not in {@code taken}.
   */
  int pick(String host, Set<Integer> taken) throws IOException {
    int size = high - low + 1;
    int start = ThreadLocalRandom.current().nextInt(size);
    InetAddress address = InetAddress.getByName(host);
    for (int i = 0; i < size; i++) {
      int port = low + (start + i) % size;
      if (!taken.contains(port) && bindable(address, port)) {
        return port;
      }
    }
    throw new IOException("no free port in " + low + "-" + high + " on " + host);
  }

  /**
   * A port the kernel picks (its ephemeral range), not in {@code taken}: where no range is known.
   */
  static int pickEphemeral(String host, IntPredicate taken) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      try (ServerSocket probe = new ServerSocket()) {
        probe.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
        int port = probe.getLocalPort();
        if (!taken.test(port)) {
          return port;
        }
      }
    }
    throw new IOException("no free port found on " + host);
  }

  /** Whether a listener could bind {@code port} on {@code host} now. */
  static boolean bindable(String host, int port) {
    try {
      return bindable(InetAddress.getByName(host), port);
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean bindable(InetAddress address, int port) {
    try (ServerSocket probe = new ServerSocket()) {
      probe.bind(new InetSocketAddress(address, port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
