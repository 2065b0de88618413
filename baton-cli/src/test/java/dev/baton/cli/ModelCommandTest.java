package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCommandTest {
  @TempDir Path dir;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream oldOut;
  private PrintStream oldErr;

  @BeforeEach
  void capture() {
    oldOut = System.out;
    oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void restore() {
    System.setOut(oldOut);
    System.setErr(oldErr);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void randomThenInfo() throws IOException {
    Path m = dir.resolve("tiny.gguf");
    assertThat(
            Main.run("model", "random", "--preset", "tiny", "--out", m.toString(), "--seed", "3"))
        .isZero();
    assertThat(Files.size(m)).isPositive();
    assertThat(Main.run("model", "info", "-m", m.toString())).isZero();
    String info = out.toString(StandardCharsets.UTF_8);
    assertThat(info).contains("architecture:  llama").contains("dim=64").contains("gpt2");
  }

  @Test
  void badInputIsOneLineAndNonZero() throws IOException {
    assertThat(Main.run("model", "info", "-m", dir.resolve("nope.gguf").toString())).isEqualTo(1);
    assertThat(err()).contains("error: model file not found").doesNotContain("Exception");

    Path m = dir.resolve("t.gguf");
    Main.run("model", "random", "--preset", "tiny", "--out", m.toString());
    byte[] b = Files.readAllBytes(m);
    Path cut = dir.resolve("cut.gguf");
    Files.write(cut, Arrays.copyOf(b, b.length - 100));
    err.reset();
    assertThat(Main.run("model", "info", "-m", cut.toString())).isEqualTo(1);
    assertThat(err()).contains("truncated").doesNotContain("\tat ");

    err.reset();
    assertThat(Main.run("model", "random", "--preset", "huge", "--out", m.toString())).isEqualTo(1);
    assertThat(err()).contains("unknown preset 'huge'");
    err.reset();
    assertThat(
            Main.run("model", "random", "--preset", "tiny", "--type", "q9", "--out", m.toString()))
        .isEqualTo(1);
    assertThat(err()).contains("unknown tensor type 'q9'");
  }

  @Test
  void tokenizePrintsIdsAndBenchmarks() {
    Path m = dir.resolve("tok.gguf");
    assertThat(Main.run("model", "random", "--preset", "tiny", "--out", m.toString())).isZero();
    out.reset();
    assertThat(Main.run("model", "tokenize", "-m", m.toString(), "-p", "hi<|eot_id|>", "--special"))
        .isZero();
    String ids = out.toString(StandardCharsets.UTF_8).strip();
    // BOS, the text's tokens, then <|eot_id|> (vocabulary 384: specials start at 368)
    assertThat(ids).startsWith("368,").endsWith(",377");
    out.reset();
    assertThat(Main.run("model", "tokenize", "-m", m.toString(), "-p", "hello", "--bench", "3"))
        .isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("median encode");
    assertThat(Main.run("model", "tokenize", "-m", m.toString())).isEqualTo(1);
    assertThat(err()).contains("give exactly one of -p TEXT or --file FILE");
  }
}
