package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportChartTest {

  @TempDir Path dir;

  @Test
  void aChartTheJvmCannotDrawIsRemovedAndNamedInThePage() throws Exception {
    StringBuilder md = new StringBuilder("numbers\n");
    Report.chart(
        md,
        dir,
        "ttft_cdf.png",
        "TTFT CDF",
        file -> {
          Files.writeString(file, ""); // what AWT leaves behind before it fails
          throw new InternalError(
              "Fontconfig head is null, check your fonts or fonts configuration");
        });
    assertThat(dir.resolve("ttft_cdf.png")).doesNotExist();
    assertThat(md.toString())
        .startsWith("numbers\n")
        .contains("ttft_cdf.png not drawn")
        .contains("Fontconfig head is null")
        .doesNotContain("![");
  }

  @Test
  void aDrawnChartIsLinked() throws Exception {
    StringBuilder md = new StringBuilder();
    Report.chart(md, dir, "x.png", "X", file -> Files.writeString(file, "png"));
    assertThat(md.toString()).contains("![X](x.png)");
    assertThat(dir.resolve("x.png")).exists();
  }
}
