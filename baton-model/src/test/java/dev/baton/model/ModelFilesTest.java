package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {

  @TempDir Path dir;

  @Test
  void aDirectoryOrAMissingFileIsNamedForWhatItIs() throws Exception {
    Path sub = Files.createDirectory(dir.resolve("models"));
    assertThat(ModelFiles.problem(sub)).contains("is a directory");
    assertThat(ModelFiles.problem(dir.resolve("nope.gguf"))).contains("not found");
    Path file = dir.resolve("ok.gguf");
    Files.writeString(file, "x");
    assertThat(ModelFiles.problem(file)).isNull();
    Path fifo = dir.resolve("pipe");
    Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
    if (mkfifo.waitFor() == 0) {
      assertThat(ModelFiles.problem(fifo)).contains("not a regular file");
    }
    assertThatThrownBy(() -> ModelFiles.require(sub)).hasMessageContaining("is a directory");
  }
}
