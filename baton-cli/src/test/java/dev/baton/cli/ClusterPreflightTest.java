package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.control.RunDirectory;
import dev.baton.model.RandomModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code baton up} refuses, before any process starts or any run directory is written, the four
 * mistakes that used to surface only as a worker that would not start.
 */
class ClusterPreflightTest {

  @TempDir Path dir;
  private PrintStream oldErr;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void setUp() {
    System.setProperty("baton.home", dir.resolve("home").toString());
    oldErr = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void tearDown() {
    System.setErr(oldErr);
    System.clearProperty("baton.home");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "engine: {args: [--no-such-flag]}|engine.args / roles.decode.args",
        "kvTransfer: {config: {kv_bogus: 1}}|unknown key 'kv_bogus'",
        "gateway: {config: {bogus_key: 1}}|unknown key 'bogus_key'",
        "truncated|model:",
      })
  void refusedBeforeAnythingStarts(String mistake, String expected) throws Exception {
    Path model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 3);
    String extra = mistake;
    if (mistake.equals("truncated")) {
      byte[] bytes = Files.readAllBytes(model);
      Files.write(model, Arrays.copyOf(bytes, bytes.length / 2));
      extra = "";
    }
    Path spec = dir.resolve("cluster.yaml");
    Files.writeString(
        spec,
        "name: preflight\nmodel: "
            + model
            + "\nmode: pool\n"
            + extra
            + "\nroles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1}\n");
    assertThat(Main.run("up", "-f", spec.toString())).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains(expected).doesNotContain("\tat ");
    assertThat(RunDirectory.forName("preflight").dir())
        .as("no run directory left behind")
        .doesNotExist();
  }

  @org.junit.jupiter.api.Test
  void aGoodSpecPassesWithEngineArgsKvConfigAndGatewayConfig() throws Exception {
    Path model = dir.resolve("good.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 3);
    dev.baton.control.ClusterSpec spec =
        dev.baton.control.SpecParser.parse(
            "model: "
                + model
                + "\nengine: {args: [--max-num-seqs, '8']}\n"
                + "kvTransfer: {config: {kv_connector_extra_config: {lease_seconds: 5}}}\n"
                + "gateway: {config: {request_timeout_ms: 5000}}\n"
                + "roles:\n  prefill: {replicas: 1}\n  decode: {replicas: 1, args: [--threads, '1']}\n",
            "t");
    ClusterPreflight.check(spec, model.toString(), "t"); // no exception
  }
}
