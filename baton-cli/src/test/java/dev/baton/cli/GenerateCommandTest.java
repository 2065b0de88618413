package dev.baton.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.Json;
import dev.baton.model.RandomModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {
  @TempDir static Path dir;
  static Path tiny;
  private ByteArrayOutputStream out;
  private ByteArrayOutputStream err;
  private PrintStream oldOut;
  private PrintStream oldErr;

  @BeforeAll
  static void model() {
    tiny = dir.resolve("tiny.gguf");
    RandomModel.write(tiny, RandomModel.Preset.TINY, 5);
  }

  @BeforeEach
  void capture() {
    out = new ByteArrayOutputStream();
    err = new ByteArrayOutputStream();
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

  private JsonNode json(String... args) {
    out.reset();
    assertThat(Main.run(args)).as(err.toString(StandardCharsets.UTF_8)).isZero();
    return Json.parse(out.toString(StandardCharsets.UTF_8));
  }

  private String fails(String... args) {
    err.reset();
    assertThat(Main.run(args)).isEqualTo(1);
    String e = err.toString(StandardCharsets.UTF_8);
    assertThat(e).startsWith("error: ").doesNotContain("Exception").doesNotContain("\tat ");
    return e;
  }

  @Test
  void theCudaBackendWithoutAGpuFailsWithOneLine() {
    org.junit.jupiter.api.Assumptions.assumeFalse(
        new dev.baton.cuda.CudaBackend().available(), "this machine has a GPU");
    String e = fails("generate", "-m", tiny.toString(), "--prompt-ids", "1,2", "--backend", "cuda");
    assertThat(e).startsWith("error: no CUDA GPU support here").hasLineCount(1);
    assertThat(fails("generate", "-m", tiny.toString(), "--prompt-ids", "1", "--device", "-1"))
        .contains("--device must be >= 0");
  }

  @Test
  void jsonReportsTokensAndSpeeds() {
    JsonNode r =
        json(
            "generate",
            "-m",
            tiny.toString(),
            "--prompt-ids",
            "1,2,3,4",
            "-n",
            "7",
            "--json",
            "--ignore-eos",
            "--bandwidth");
    assertThat(r.get("prompt_tokens").asInt()).isEqualTo(4);
    assertThat(r.get("generated_tokens").asInt()).isEqualTo(7);
    assertThat(r.get("token_ids")).hasSize(7);
    assertThat(r.get("text").isTextual()).isTrue();
    assertThat(r.get("prefill_tokens_per_s").asDouble()).isPositive();
    assertThat(r.get("decode_tokens_per_s").asDouble()).isPositive();
    assertThat(r.get("load_ms").asLong()).isNotNegative();
    assertThat(r.get("read_bandwidth_gb_s").asDouble()).isPositive();
  }

  @Test
  void greedyIsDeterministicAndSeedsReproduce() {
    String[] greedy = {
      "generate", "-m", tiny.toString(), "-p", "hello there", "-n", "6", "--json", "--ignore-eos"
    };
    assertThat(json(greedy).get("token_ids")).isEqualTo(json(greedy).get("token_ids"));
    String[] sampled = {
      "generate",
      "-m",
      tiny.toString(),
      "-p",
      "hello there",
      "-n",
      "12",
      "--json",
      "--ignore-eos",
      "--temperature",
      "1.5",
      "--top-p",
      "0.95",
      "--top-k",
      "100",
      "--seed",
      "9"
    };
    JsonNode a = json(sampled);
    assertThat(json(sampled).get("token_ids")).isEqualTo(a.get("token_ids"));
    String[] other = Arrays.copyOf(sampled, sampled.length);
    other[other.length - 1] = "10";
    assertThat(json(other).get("token_ids")).isNotEqualTo(a.get("token_ids"));
  }

  @Test
  void batchedDecodeOfOnePromptGivesTheSameGreedyTokens() {
    JsonNode one =
        json(
            "generate",
            "-m",
            tiny.toString(),
            "--prompt-ids",
            "5,6,7",
            "-n",
            "5",
            "--json",
            "--ignore-eos");
    JsonNode four =
        json(
            "generate",
            "-m",
            tiny.toString(),
            "--prompt-ids",
            "5,6,7",
            "-n",
            "5",
            "--json",
            "--ignore-eos",
            "--batch",
            "4");
    assertThat(four.get("token_ids")).isEqualTo(one.get("token_ids"));
    assertThat(four.get("batch").asInt()).isEqualTo(4);
  }

  @Test
  void textOutputStreamsTheGeneration() {
    out.reset();
    assertThat(Main.run("generate", "-m", tiny.toString(), "-p", "abc", "-n", "4", "--ignore-eos"))
        .isZero();
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("generated 4 tokens");
  }

  @Test
  void chatWrapsThePromptInTheTemplate() {
    JsonNode plain = json("generate", "-m", tiny.toString(), "-p", "hi", "-n", "1", "--json");
    JsonNode chat =
        json("generate", "-m", tiny.toString(), "-p", "hi", "-n", "1", "--json", "--chat");
    assertThat(chat.get("prompt_tokens").asInt())
        .isGreaterThan(plain.get("prompt_tokens").asInt() + 4);
  }

  @Test
  void badInputIsOneClearLine() throws IOException {
    String m = tiny.toString();
    assertThat(fails("generate", "-m", dir.resolve("missing.gguf").toString(), "-p", "x"))
        .contains("missing.gguf not found");
    assertThat(fails("generate", "-m", dir.toString(), "-p", "x")).contains("is a directory");
    Path corrupt = dir.resolve("corrupt.gguf");
    Files.write(corrupt, "this is not a gguf file at all, not even close".getBytes());
    assertThat(fails("generate", "-m", corrupt.toString(), "-p", "x")).contains("corrupt.gguf");
    Path truncated = dir.resolve("truncated.gguf");
    byte[] bytes = Files.readAllBytes(tiny);
    Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
    fails("generate", "-m", truncated.toString(), "-p", "x");
    assertThat(fails("generate", "-m", m, "--prompt-ids", "1,2,3,4,5,6,7,8,9,10", "-c", "8"))
        .contains("longer than the context");
    assertThat(fails("generate", "-m", m, "--prompt-ids", "1,99999")).contains("token id 99999");
    assertThat(fails("generate", "-m", m, "-p", "x", "--temperature", "-1"))
        .contains("temperature must be");
    assertThat(fails("generate", "-m", m)).contains("-p/--prompt");
    assertThat(fails("generate", "-m", m, "-p", "x", "--kv-cache-dtype", "q4"))
        .contains("unknown KV cache dtype");
  }
}
