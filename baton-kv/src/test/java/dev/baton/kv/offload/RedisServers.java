package dev.baton.kv.offload;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.baton.testkit.RedisServerProcess;
import java.nio.file.Path;
import java.util.Optional;

/** Starts a real redis-server for a test, or skips the test saying why it cannot. */
final class RedisServers {

  private RedisServers() {}

  static RedisServerProcess startOrSkip() {
    Optional<Path> binary = RedisServerProcess.findBinary();
    assumeTrue(
        binary.isPresent(),
        "redis-server is not installed and bin/test could not install it"
            + " (apt-get install redis-server): skipping the L2 tests");
    return RedisServerProcess.start(binary.get());
  }
}
