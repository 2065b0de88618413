package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.ClusterSpec;
import dev.baton.control.SpecParser;
import dev.baton.control.WorkerPlan;
import dev.baton.gateway.GatewayConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The gateway config the control plane writes for each example spec is accepted by the real
 * gateway's parser, with the pools the control plane registers workers into.
 */
class ClusterGatewayContractTest {

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(Path.of("..", "examples"))) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void generatedGatewayConfigParses(Path example) throws IOException {
    ClusterSpec spec = SpecParser.parse(example);
    GatewayConfig config =
        GatewayConfig.parseYaml(WorkerPlan.gatewayConfig(spec, 18000, "secret-token"));
    assertThat(config.port()).isEqualTo(18000);
    assertThat(config.host()).isEqualTo(spec.host());
    assertThat(config.adminToken()).isEqualTo("secret-token");
    for (var role : spec.roles().keySet()) {
      String pool = WorkerPlan.poolFor(spec, role);
      assertThat(config.pools()).extracting(GatewayConfig.Pool::name).contains(pool);
    }
    GatewayConfig.Pool first = config.pools().getFirst();
    if (spec.roles().containsKey(dev.baton.core.Role.PREFILL)) {
      assertThat(first.name()).isEqualTo(WorkerPlan.DISAGGREGATED_POOL);
      assertThat(first.mode()).isIn(GatewayConfig.Mode.NIXL, GatewayConfig.Mode.SGLANG);
    }
  }
}
