package dev.baton.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.model.RandomModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompts built with a real GGUF model's tokenizer (baton-model's random tiny and small models).
 */
class GgufPromptTokenizerTest {

  @TempDir static Path dir;
  static GgufPromptTokenizer tiny;
  static GgufPromptTokenizer small;

  @BeforeAll
  static void models() {
    Path t = dir.resolve("tiny.gguf");
    RandomModel.write(t, RandomModel.Preset.TINY, 1);
    tiny = GgufPromptTokenizer.open(t);
    Path s = dir.resolve("small.gguf");
    RandomModel.write(s, RandomModel.Preset.SMALL, 1);
    small = GgufPromptTokenizer.open(s);
  }

  @Test
  void randomTextHitsTheTargetTokenCountExactly() {
    for (GgufPromptTokenizer tokenizer : List.of(tiny, small)) {
      TextSynthesizer text = new TextSynthesizer(tokenizer);
      Random random = new Random(3);
      int exact = 0;
      for (int target : new int[] {1, 7, 64, 300, 1024}) {
        for (int k = 0; k < 4; k++) {
          TextSynthesizer.Text t = text.randomText(target, random);
          assertThat(tokenizer.count(t.text())).isEqualTo(t.tokens());
          assertThat(t.tokens()).isBetween(target - 2, target + 2);
          exact += t.tokens() == target ? 1 : 0;
        }
      }
      // The tiny vocabulary (384 tokens, mostly bytes) has too few whole words to hit every
      // length exactly; a real-sized vocabulary does.
      assertThat(exact).as(tokenizer.id()).isGreaterThanOrEqualTo(tokenizer == tiny ? 8 : 18);
    }
  }

  @Test
  void tokenIdPromptsUseOrdinaryTokensOnly() {
    DatasetConfig config = DatasetConfig.random(20, 30, 4, 1).withTokenIds(true).withRandom(0, 5);
    List<PreparedRequest> prompts = Datasets.random(config, new TextSynthesizer(small));
    assertThat(prompts)
        .allSatisfy(
            r -> {
              assertThat(r.promptTokenIds()).hasSize(35);
              assertThat(r.promptLen()).isEqualTo(35);
              for (int id : r.promptTokenIds()) {
                assertThat(id).isBetween(0, small.vocabSize() - 1);
              }
            });
    int[] first = prompts.get(0).promptTokenIds();
    assertThat(prompts.get(1).promptTokenIds()).startsWith(java.util.Arrays.copyOf(first, 5));
  }

  @Test
  void tokenIdPromptsNeedAVocabulary() {
    DatasetConfig config = DatasetConfig.random(2, 3, 4, 1).withTokenIds(true);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> Datasets.random(config, new TextSynthesizer(new WordTokenizer())))
        .hasMessageContaining("--tokenizer FILE.gguf");
  }

  @Test
  void aFileThatIsNoGgufIsAClearError() throws IOException {
    Path bogus = Files.writeString(dir.resolve("bogus.gguf"), "not a model");
    assertThatThrownBy(() -> GgufPromptTokenizer.open(bogus))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bogus.gguf");
  }
}
