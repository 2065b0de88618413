package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.core.Role;
import dev.baton.testkit.RedisServerProcess;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kvTransfer.cache: parsing, what workers are told, and the local redis-server's supervision. */
class KvCacheSpecTest {

  @TempDir Path dir;

  private static ClusterSpec parse(String kv) {
    return SpecParser.parse(
        "model: random:tiny\nkvTransfer: " + kv + "\nroles: {prefill: {}, decode: {}}\n", "t");
  }

  @Test
  void anExternalUrlGoesIntoTheOffloadConnectorsL2Url() {
    ClusterSpec spec =
        parse(
            "{connector: OffloadConnector, cache: {redis: \"redis://10.0.0.5:6379/0\"},"
                + " config: {kv_connector_extra_config: {l1_capacity: 256M}}}");
    JsonNode kv = Json.parse(WorkerPlan.kvTransferConfig(spec, Role.DECODE, Path.of("/run/s")));
    assertThat(kv.path("kv_connector").asText()).isEqualTo("OffloadConnector");
    JsonNode extra = kv.path("kv_connector_extra_config");
    assertThat(extra.path("l2_url").asText()).isEqualTo("redis://10.0.0.5:6379/0");
    assertThat(extra.path("l1_capacity").asText()).isEqualTo("256M");
    assertThat(extra.has("secret_file")).as("no P2P part: no secret").isFalse();
  }

  @Test
  void aMultiConnectorGetsTheUrlInItsCachePartAndTheSecretForItsPeerPart() {
    ClusterSpec spec =
        parse(
            "{connector: MultiConnector, cache: {redis: local, port: 6391},"
                + " config: {kv_connector_extra_config: {connectors: ["
                + "{kv_connector: P2pConnector}, {kv_connector: OffloadConnector}]}}}");
    JsonNode kv = Json.parse(WorkerPlan.kvTransferConfig(spec, Role.PREFILL, Path.of("/run/s")));
    JsonNode extra = kv.path("kv_connector_extra_config");
    assertThat(extra.path("secret_file").asText()).isEqualTo("/run/s");
    assertThat(
            extra
                .path("connectors")
                .get(1)
                .path("kv_connector_extra_config")
                .path("l2_url")
                .asText())
        .isEqualTo("redis://127.0.0.1:6391/0");
    assertThat(extra.path("connectors").get(0).path("kv_connector_extra_config").has("l2_url"))
        .isFalse();
  }

  @Test
  void badCacheSectionsAreClearErrors() {
    assertThatThrownBy(() -> parse("{connector: OffloadConnector, cache: {redis: memcached}}"))
        .hasMessageContaining("'local' (baton up starts a redis-server) or a redis:// URL");
    assertThatThrownBy(
            () -> parse("{connector: OffloadConnector, cache: {redis: \"redis://h:1\", port: 5}}"))
        .hasMessageContaining("apply to a local server only");
    assertThatThrownBy(() -> parse("{connector: OffloadConnector, cache: {redis: local, ttl: 5}}"))
        .hasMessageContaining("ttl");
  }

  @Test
  void theLocalServerIsStartedOnLoopbackAndRestartedWhenItDies() throws IOException {
    assumeTrue(
        RedisServerProcess.findBinary().isPresent(),
        "redis-server is not installed and bin/test could not install it");
    ClusterSpec.KvCacheSpec cache = new ClusterSpec.KvCacheSpec("local", null, false);
    RunDirectory run = new RunDirectory("t", dir);
    java.nio.file.Files.createDirectories(run.logs());
    RedisSupervisor redis = new RedisSupervisor(run, new LocalProcessLauncher(), new Fleet());
    try {
      int port = redis.start(cache);
      assertThat(accepts(port)).isTrue();
      // Kill it from outside: the supervisor brings it back on the same port.
      ProcessHandle.of(redis.pid()).ifPresent(ProcessHandle::destroyForcibly);
      await().atMost(Duration.ofSeconds(10)).until(() -> !accepts(port));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> redis.superviseOnce(cache, 2) || accepts(port) && redis.restarts() > 0);
      assertThat(accepts(port)).isTrue();
      assertThat(redis.restarts()).isEqualTo(1);
    } finally {
      redis.stop(Duration.ofSeconds(5));
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 300);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
