package dev.baton.gateway;

import dev.baton.core.Role;
import java.net.URI;

/** One worker as the config or the admin API names it. */
public record WorkerSpec(String url, Role role, String group, int bootstrapPort) {
  public WorkerSpec {
    URI uri = URI.create(url);
    if (uri.getScheme() == null || uri.getHost() == null || uri.getPort() < 0) {
      throw new IllegalArgumentException(
          "worker url '" + url + "' must look like http://host:port");
    }
    while (url.endsWith("/")) {
      url = url.substring(0, url.length() - 1);
    }
  }
}
