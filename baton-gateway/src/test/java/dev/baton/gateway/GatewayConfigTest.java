package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.core.Role;
import org.junit.jupiter.api.Test;

class GatewayConfigTest {
  @Test
  void readsEveryKey() {
    GatewayConfig c =
        GatewayConfig.parseYaml(
            """
            host: 127.0.0.1
            port: 9000
            api_keys: [k1, k2]
            admin_token: t
            upstream_client: jdk
            request_timeout_ms: 1000
            scrape_interval_ms: 500
            health: {interval_ms: 100, timeout_ms: 50, failure_threshold: 5, open_ms: 700}
            retry: {max_attempts: 4, backoff_ms: 10, backoff_multiplier: 1.5, max_backoff_ms: 80}
            migration: {enabled: false, max_migrations: 1}
            prefix_index: {capacity_blocks: 4096, block_size: 32, chars_per_block: 100,
                           cache_threshold: 0.5, balance_abs: 10, balance_rel: 2.0}
            pools:
              - name: pd
                mode: nixl
                models: [llama]
                policy: pd
                decode_policy: least-kv-cache
                disaggregation_threshold: 64
                prefill_saturation: 4
                max_in_flight: 10
                queue_size: 20
                queue_timeout_ms: 300
                workers:
                  - {url: "http://h1:8000/", role: prefill, group: g1, bootstrap_port: 9001}
                  - {url: "http://h2:8000", role: decode, group: g1}
            """);
    assertThat(c.port()).isEqualTo(9000);
    assertThat(c.apiKeys()).containsExactly("k1", "k2");
    assertThat(c.health().openMs()).isEqualTo(700);
    assertThat(c.retry().backoffMultiplier()).isEqualTo(1.5);
    assertThat(c.migration().enabled()).isFalse();
    assertThat(c.prefixIndex().blockSize()).isEqualTo(32);
    GatewayConfig.Pool p = c.pools().get(0);
    assertThat(p.mode()).isEqualTo(GatewayConfig.Mode.NIXL);
    assertThat(p.prefillPolicy()).isEqualTo("pd");
    assertThat(p.decodePolicy()).isEqualTo("least-kv-cache");
    assertThat(p.workers().get(0).url()).isEqualTo("http://h1:8000");
    assertThat(p.workers().get(0).bootstrapPort()).isEqualTo(9001);
    assertThat(p.workers().get(1).role()).isEqualTo(Role.DECODE);
  }

  @Test
  void defaultsGiveOneColocatedPool() {
    GatewayConfig c = GatewayConfig.defaults();
    assertThat(c.pools()).hasSize(1);
    assertThat(c.pools().get(0).mode()).isEqualTo(GatewayConfig.Mode.COLOCATED);
    assertThat(c.upstreamClient()).isEqualTo("socket");
  }

  @Test
  void mistakesAreNamed() {
    assertThatThrownBy(() -> GatewayConfig.parseYaml("pools: [{polcy: random}]"))
        .hasMessageContaining("unknown key 'pools[0].polcy'");
    assertThatThrownBy(() -> GatewayConfig.parseYaml("pools: [{policy: fastest}]"))
        .hasMessageContaining("unknown routing policy 'fastest'");
    assertThatThrownBy(
            () -> GatewayConfig.parseYaml("pools: [{workers: [{url: \"http://x:1\", role: p}]}]"))
        .hasMessageContaining("role must be prefill, decode or both");
    assertThatThrownBy(() -> GatewayConfig.parseYaml("pools: [{workers: [{url: nohost}]}]"))
        .hasMessageContaining("must look like http://host:port");
    assertThatThrownBy(() -> GatewayConfig.parseYaml("port: abc"))
        .hasMessageContaining("port: must be an integer");
    assertThatThrownBy(() -> GatewayConfig.parseYaml("pools: [{name: a}, {name: a}]"))
        .hasMessageContaining("used twice");
    assertThatThrownBy(() -> GatewayConfig.parseYaml("port: [1"))
        .hasMessageContaining("malformed YAML");
  }
}
