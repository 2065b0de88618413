package dev.baton.kv.p2p;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where a decode worker may pull KV from: the peers its operator configured ({@code peers} in
 * {@code kv_connector_extra_config}), never an address a request names on its own. Entries are
 * {@code host} (any port) or {@code host:port} ({@code [v6]:port}); {@code *} allows any peer. With
 * no entries only loopback peers are allowed, which is what one machine needs.
 */
public final class PeerAllowlist {

  private record Entry(String host, int port) {} // port -1: any

  private final List<Entry> entries;
  private final boolean any;

  private PeerAllowlist(List<Entry> entries, boolean any) {
    this.entries = entries;
    this.any = any;
  }

  /** Parses entries; a malformed one is an IllegalArgumentException naming it. */
  public static PeerAllowlist of(List<String> peers) {
    List<Entry> entries = new ArrayList<>();
    boolean any = false;
    for (String raw : peers) {
      String p = raw.strip();
      if (p.equals("*")) {
        any = true;
        continue;
      }
      if (p.isEmpty()) {
        throw new IllegalArgumentException("peers: an entry is empty");
      }
      String host = p;
      int port = -1;
      int colon = p.lastIndexOf(':');
      boolean bracketed = p.startsWith("[");
      if (bracketed) {
        int close = p.indexOf(']');
        if (close < 0) {
          throw new IllegalArgumentException("peers: '" + raw + "' has an unclosed [");
        }
        host = p.substring(1, close);
        if (close + 1 < p.length()) {
          port = parsePort(raw, p.substring(close + 1));
        }
      } else if (colon > 0 && p.indexOf(':') == colon) {
        host = p.substring(0, colon);
        port = parsePort(raw, p.substring(colon));
      }
      entries.add(new Entry(host.toLowerCase(Locale.ROOT), port));
    }
    return new PeerAllowlist(List.copyOf(entries), any);
  }

  private static int parsePort(String raw, String colonAndPort) {
    try {
      int port = Integer.parseInt(colonAndPort.substring(1));
      if (port < 1 || port > 65535) {
        throw new NumberFormatException();
      }
      return port;
    } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
      throw new IllegalArgumentException("peers: '" + raw + "' has no valid port");
    }
  }

  /** Whether a pull from {@code host:port} is allowed. Resolves names only to compare addresses. */
  public boolean allows(String host, int port) {
    if (any) {
      return true;
    }
    String h = host.toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (entries.isEmpty()) {
      return isLoopback(h);
    }
    for (Entry e : entries) {
      if ((e.port() == -1 || e.port() == port) && sameHost(e.host(), h)) {
        return true;
      }
    }
    return false;
  }

  private static boolean sameHost(String configured, String asked) {
    if (configured.equals(asked)) {
      return true;
    }
    if (!isLiteral(configured) || !isLiteral(asked)) {
      return false; // names are compared as written: no DNS lookups on behalf of a request
    }
    try {
      return InetAddress.getByName(configured).equals(InetAddress.getByName(asked));
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static boolean isLoopback(String host) {
    if (host.equals("localhost")) {
      return true;
    }
    if (!isLiteral(host)) {
      return false;
    }
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** An IPv4 or IPv6 literal (resolving it needs no DNS). */
  private static boolean isLiteral(String host) {
    return host.matches("[0-9.]+") || host.contains(":");
  }

  @Override
  public String toString() {
    return any ? "*" : entries.isEmpty() ? "loopback only" : entries.toString();
  }
}
