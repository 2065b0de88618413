package dev.baton.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.core.Role;
import dev.baton.kv.p2p.P2pOptions;
import dev.baton.kv.p2p.Transport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KvTransferConfigTest {

  @Test
  void parsesAFullConfig() {
    KvTransferConfig config =
        KvTransferConfig.parse(
            """
            {"kv_connector": "P2pConnector", "kv_role": "kv_producer",
             "kv_load_failure_policy": "recompute", "engine_id": "prefill-0",
             "kv_connector_extra_config": {"host": "0.0.0.0", "port": 9100,
               "advertise_host": "10.0.0.5", "transport": "tcp", "lease_seconds": 2.5,
               "timeout_ms": 1500, "secret": "0123456789abcdef-xyz"}}
            """);
    assertThat(config.role()).isEqualTo(Role.PREFILL);
    assertThat(config.loadFailurePolicy()).isEqualTo(LoadFailurePolicy.RECOMPUTE);
    assertThat(config.engineId()).isEqualTo("prefill-0");
    P2pOptions p2p = config.p2pOptions();
    assertThat(p2p.bindHost()).isEqualTo("0.0.0.0");
    assertThat(p2p.port()).isEqualTo(9100);
    assertThat(p2p.advertiseHost()).isEqualTo("10.0.0.5");
    assertThat(p2p.transport()).isEqualTo(Transport.TCP);
    assertThat(p2p.lease()).isEqualTo(Duration.ofMillis(2500));
    assertThat(p2p.timeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(new String(p2p.resolveSecret(), java.nio.charset.StandardCharsets.UTF_8))
        .isEqualTo("0123456789abcdef-xyz");
  }

  @Test
  void defaultsAreSecureAndVllmLike() {
    KvTransferConfig config =
        KvTransferConfig.parse("{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\"}");
    assertThat(config.loadFailurePolicy()).isEqualTo(LoadFailurePolicy.FAIL);
    P2pOptions p2p = config.p2pOptions();
    assertThat(p2p.bindHost()).isEqualTo("127.0.0.1");
    assertThat(p2p.advertiseHost()).isEqualTo("127.0.0.1");
    assertThat(p2p.lease()).isEqualTo(Duration.ofSeconds(30));
    assertThat(p2p.transport()).isEqualTo(Transport.AUTO);
    assertThatThrownBy(p2p::resolveSecret).hasMessageContaining("needs a cluster secret");
  }

  @Test
  void secretComesFromAFileOrAFlagAndNeverShows(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("secret");
    Files.writeString(file, "a-secret-from-a-file-0123\n");
    KvTransferConfig config =
        KvTransferConfig.parse(
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\","
                + "\"kv_connector_extra_config\":{\"secret\":\"inline-secret-0123456\"}}");
    assertThat(config.toString()).doesNotContain("inline-secret").contains("redacted");
    assertThat(config.p2pOptions().toString()).doesNotContain("inline-secret");
    assertThat(new String(config.p2pOptions().withSecretFile(file).resolveSecret()))
        .isEqualTo("a-secret-from-a-file-0123");
    assertThat(new String(config.withSecret("flag-secret-0123456789").p2pOptions().resolveSecret()))
        .isEqualTo("flag-secret-0123456789");
  }

  @Test
  void roundTripsThroughJsonAndSaysWhereTheSharedPoolGoes() {
    KvTransferConfig config =
        KvTransferConfig.parse(
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\","
                + "\"engine_id\":\"p0\",\"kv_connector_extra_config\":{\"port\":9000}}");
    assertThat(KvTransferConfig.parse(config.toJson())).isEqualTo(config);
    assertThat(config.sharedPoolDir()).contains(SharedMemoryRegion.DEFAULT_DIR);
    KvTransferConfig tcp =
        KvTransferConfig.parse(
            "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_producer\","
                + "\"kv_connector_extra_config\":{\"transport\":\"tcp\"}}");
    assertThat(tcp.sharedPoolDir()).isEmpty();
    KvTransferConfig consumer =
        KvTransferConfig.parse("{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_consumer\"}");
    assertThat(consumer.sharedPoolDir()).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '~',
      value = {
        "not json | malformed JSON",
        "[1] | must be a JSON object",
        "{\"kv_role\":\"kv_both\"} | kv_connector is required",
        "{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"} | unknown kv_connector 'NixlConnector'",
        "{\"kv_connector\":\"P2pConnector\"} | kv_role is required",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"decoder\"} | kv_role must be one of",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_load_failure_policy\":\"retry\"} | 'fail' or 'recompute'",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_rol\":\"x\"} | unknown key 'kv_rol'",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"leas_seconds\":3}} | unknown key 'kv_connector_extra_config.leas_seconds'",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"port\":70000}} | port must be in 0..65535",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"port\":\"80\"}} | kv_connector_extra_config.port: must be an integer",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"transport\":\"rdma\"}} | transport must be",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"lease_seconds\":0}} | lease_seconds must be positive",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"secret\":\"short\"}} | at least 16 bytes",
        "{\"kv_connector\":\"P2pConnector\",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":[]} | must be a JSON object",
      })
  void badConfigsSayWhatIsWrong(String json, String message) {
    assertThatThrownBy(() -> KvTransferConfig.parse(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--kv-transfer-config")
        .hasMessageContaining(message);
  }
}
