package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.engine.KvBlockPool;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServeCommandTest {

  @Test
  void parsesByteSizes() {
    assertThat(ServeCommand.parseBytes("1024")).isEqualTo(1024);
    assertThat(ServeCommand.parseBytes("2K")).isEqualTo(2048);
    assertThat(ServeCommand.parseBytes("512M")).isEqualTo(512L << 20);
    assertThat(ServeCommand.parseBytes("1.5GiB")).isEqualTo(3L << 29);
    assertThat(ServeCommand.parseBytes("2gb")).isEqualTo(2L << 30);
    assertThatThrownBy(() -> ServeCommand.parseBytes("lots"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--kv-cache-memory");
    assertThatThrownBy(() -> ServeCommand.parseBytes("-1G"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static KvBlockPool.Dtype dtype(String name) {
    ComputeOptions o = new ComputeOptions();
    o.kvCacheDtype = name;
    return o.dtype();
  }

  @Test
  void parsesKvDtypes() {
    assertThat(dtype("f16")).isEqualTo(KvBlockPool.Dtype.F16);
    assertThat(dtype("F32")).isEqualTo(KvBlockPool.Dtype.F32);
    assertThatThrownBy(() -> dtype("int4"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("f32 or f16");
  }

  @Test
  void missingModelAndBadRoleAreOneLineErrors() {
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new ServeCommand());
    cli.setErr(new PrintWriter(err));
    cli.setExecutionExceptionHandler(
        (e, cmd, parse) -> {
          cmd.getErr().println("error: " + e.getMessage());
          return 1;
        });
    assertThat(cli.execute("-m", "/nonexistent/model.gguf")).isEqualTo(1);
    assertThat(err.toString()).contains("model file /nonexistent/model.gguf not found");
    assertThat(new CommandLine(new ServeCommand()).execute()).isEqualTo(2); // -m is required
  }
}
