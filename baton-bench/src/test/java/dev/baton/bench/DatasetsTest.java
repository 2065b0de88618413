package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Datasets build prompts of the intended shape and length. */
class DatasetsTest {

  private final TextSynthesizer words = new TextSynthesizer(new WordTokenizer());

  @Test
  void randomPromptsHaveLengthsInTheirRangeAndAreReproducible() {
    DatasetConfig config = DatasetConfig.random(200, 100, 20, 3).withRandom(0.25, 0);
    List<PreparedRequest> a = Datasets.random(config, words);
    List<PreparedRequest> b = Datasets.random(config, words);
    assertThat(a).hasSize(200);
    for (PreparedRequest r : a) {
      assertThat(r.promptLen()).isBetween(75, 125);
      assertThat(StubServer.countWords(r.prompt())).isEqualTo(r.promptLen());
      assertThat(r.outputLen()).isBetween(15, 25);
    }
    assertThat(a.stream().mapToInt(PreparedRequest::promptLen).distinct().count())
        .isGreaterThan(10);
    assertThat(a.get(17).prompt()).isEqualTo(b.get(17).prompt());
    assertThat(Datasets.random(config.withSeed(4), words).get(17).prompt())
        .isNotEqualTo(a.get(17).prompt());
  }

  @Test
  void randomPrefixIsSharedByEveryPrompt() {
    DatasetConfig config = DatasetConfig.random(20, 10, 5, 1).withRandom(0, 30);
    List<PreparedRequest> prompts = Datasets.random(config, words);
    String prefix = String.join(" ", List.of(prompts.get(0).prompt().split(" ")).subList(0, 30));
    for (PreparedRequest r : prompts) {
      assertThat(r.prompt()).startsWith(prefix + " ");
      assertThat(r.promptLen()).isEqualTo(40);
    }
  }

  @Test
  void prefixRepetitionHasNPrefixesTimesMSuffixes() {
    DatasetConfig config =
        DatasetConfig.random(12, 10, 5, 9).withName("prefix").withPrefix(8, 4, 3, 7);
    List<PreparedRequest> prompts = Datasets.prefixRepetition(config, words);
    assertThat(prompts).hasSize(12);
    var prefixes =
        prompts.stream()
            .map(r -> String.join(" ", List.of(r.prompt().split(" ")).subList(0, 8)))
            .collect(
                java.util.stream.Collectors.groupingBy(
                    p -> p, java.util.stream.Collectors.counting()));
    assertThat(prefixes).hasSize(3);
    assertThat(prefixes.values()).containsOnly(4L);
    assertThat(prompts)
        .allSatisfy(
            r -> {
              assertThat(r.promptLen()).isEqualTo(12);
              assertThat(r.outputLen()).isEqualTo(7);
            });
  }

  @Test
  void serverTokenizerPathConvergesOnANonLinearTokenizer() {
    // A tokenizer that splits words longer than four letters in two: counts are not words.
    PromptTokenizer splitting =
        new PromptTokenizer() {
          @Override
          public String id() {
            return "split";
          }

          @Override
          public int count(String text) {
            int n = 0;
            for (String w : text.strip().split("\\s+")) {
              n += w.isEmpty() ? 0 : (w.length() > 4 ? 2 : 1);
            }
            return n;
          }
        };
    TextSynthesizer text = new TextSynthesizer(splitting);
    Random random = new Random(5);
    int exact = 0;
    for (int i = 0; i < 50; i++) {
      TextSynthesizer.Text t = text.randomText(200, random);
      assertThat(splitting.count(t.text())).isEqualTo(t.tokens());
      assertThat(t.tokens()).isBetween(198, 202);
      exact += t.tokens() == 200 ? 1 : 0;
    }
    assertThat(exact).isGreaterThanOrEqualTo(30);
  }

  @Test
  void shareGptTakesFirstTurnsFiltersAndShuffles(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("sg.json");
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < 30; i++) {
      json.append(i > 0 ? "," : "")
          .append("{\"id\":\"c")
          .append(i)
          .append("\",\"conversations\":[{\"from\":\"human\",\"value\":\"question number ")
          .append(i)
          .append(" is here\"},{\"from\":\"gpt\",\"value\":\"")
          .append("answer ".repeat(5 + i))
          .append("\"}]}");
    }
    json.append(",{\"id\":\"short\",\"conversations\":[{\"from\":\"human\",\"value\":\"hi\"},")
        .append("{\"from\":\"gpt\",\"value\":\"hello there my friend\"}]}");
    json.append(",{\"id\":\"one\",\"conversations\":[{\"from\":\"human\",\"value\":\"alone\"}]}]");
    Files.writeString(file, json);
    DatasetConfig config =
        DatasetConfig.random(100, 1, 1, 0).withPath(file, 0).withName("sharegpt");
    List<PreparedRequest> prompts = Datasets.shareGpt(config, new WordTokenizer());
    assertThat(prompts).hasSize(30); // "hi" is too short, the one-turn conversation has no reply
    assertThat(prompts)
        .allSatisfy(
            r -> {
              assertThat(r.prompt()).startsWith("question number");
              assertThat(r.promptLen()).isEqualTo(5);
              assertThat(r.outputLen()).isGreaterThanOrEqualTo(5);
            });
    assertThat(prompts.get(0).prompt()).isNotEqualTo("question number 0 is here");
    DatasetConfig fixed = config.withPath(file, 16).withNumPrompts(3);
    assertThat(Datasets.shareGpt(fixed, new WordTokenizer()))
        .hasSize(3)
        .allSatisfy(r -> assertThat(r.outputLen()).isEqualTo(16));
  }

  @Test
  void shareGptErrorsAreClear(@TempDir Path dir) throws IOException {
    DatasetConfig config =
        DatasetConfig.random(1, 1, 1, 0)
            .withPath(dir.resolve("missing.json"), 0)
            .withName("sharegpt");
    assertThatThrownBy(() -> Datasets.shareGpt(config, new WordTokenizer()))
        .hasMessageContaining("missing.json");
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"not\": \"an array\"}");
    assertThatThrownBy(() -> Datasets.shareGpt(config.withPath(bad, 0), new WordTokenizer()))
        .hasMessageContaining("JSON array");
  }

  @Test
  void multiTurnSessionsCarryTheGrowingConversation() throws InterruptedException {
    DatasetConfig config =
        DatasetConfig.random(7, 10, 3, 2).withName("multiturn").withMultiturnTurns(3);
    MultiTurnWorkload w = new MultiTurnWorkload(config, words);
    assertThat(w.sessions()).isEqualTo(3); // 3 + 3 + 1 turns
    PreparedRequest a1 = w.next();
    PreparedRequest b1 = w.next();
    PreparedRequest c1 = w.next();
    assertThat(List.of(a1.sessionId(), b1.sessionId(), c1.sessionId())).doesNotHaveDuplicates();
    assertThat(a1.history()).isEmpty();
    w.finished(a1, new RequestResult(true, 0, 1, 2, new long[0], 3, true, -1, "reply one", "", ""));
    PreparedRequest a2 = w.next();
    assertThat(a2.sessionId()).isEqualTo(a1.sessionId());
    assertThat(a2.history())
        .containsExactly(
            new ChatMessage("user", a1.prompt()), new ChatMessage("assistant", "reply one"));
    assertThat(a2.promptLen()).isEqualTo(10 + 3 + 10);
    assertThat(a2.flattenedPrompt()).isEqualTo(a1.prompt() + "\nreply one\n" + a2.prompt());
    w.finished(b1, RequestResult.failure(0, 1, "HTTP 500", "x"));
    w.finished(c1, RequestResult.failure(0, 1, "HTTP 500", "x")); // c's only turn: session ends
    w.finished(a2, RequestResult.failure(0, 1, "HTTP 500", "x"));
    int left = 0;
    PreparedRequest r;
    while ((r = w.next()) != null) {
      left++;
      assertThat(r.sessionId()).isNotEqualTo(c1.sessionId());
      w.finished(r, RequestResult.failure(0, 1, "HTTP 500", "x"));
    }
    assertThat(left).isEqualTo(3);
  }
}
