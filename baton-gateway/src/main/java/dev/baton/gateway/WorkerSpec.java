package dev.baton.gateway;

import dev.baton.core.Role;
import java.net.URI;

/**
 * One worker as the config or the admin API names it. {@code kvEvents}: the worker's KV event
 * publisher ({@code --kv-events-config} endpoint, e.g. {@code tcp://10.0.0.5:5557}), which the
 * prefix index then follows; null when it publishes none. {@code kvEventsReplay}: its {@code
 * replay_endpoint}, asked for the batches a sequence gap lost; null when none.
 */
public record WorkerSpec(
    String url,
    Role role,
    String group,
    int bootstrapPort,
    String kvEvents,
    String kvEventsReplay) {
  public WorkerSpec {
    URI uri = URI.create(url);
    if (uri.getScheme() == null || uri.getHost() == null || uri.getPort() < 0) {
      throw new IllegalArgumentException(
          "worker url '" + url + "' must look like http://host:port");
    }
    while (url.endsWith("/")) {
      url = url.substring(0, url.length() - 1);
    }
    if (kvEvents != null && !kvEvents.matches("tcp://[^/*]+:\\d+")) {
      throw new IllegalArgumentException(
          "worker " + url + ": kv_events '" + kvEvents + "' must look like tcp://host:port");
    }
    if (kvEventsReplay != null && !kvEventsReplay.matches("tcp://[^/*]+:\\d+")) {
      throw new IllegalArgumentException(
          "worker "
              + url
              + ": kv_events_replay '"
              + kvEventsReplay
              + "' must look like tcp://host:port");
    }
    if (kvEventsReplay != null && kvEvents == null) {
      throw new IllegalArgumentException(
          "worker " + url + ": kv_events_replay needs kv_events (the stream it fills gaps of)");
    }
  }

  public WorkerSpec(String url, Role role, String group, int bootstrapPort) {
    this(url, role, group, bootstrapPort, null, null);
  }
}
