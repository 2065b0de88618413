package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.gateway.policy.PromptKeys;
import dev.baton.gateway.policy.PromptTokenizer;
import dev.baton.model.RandomModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelTokenizerTest {
  @Test
  void prefixIndexUsesTheModelsTokenBlocks(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("tiny.gguf");
    RandomModel.write(model, RandomModel.Preset.TINY, 3);
    PromptTokenizer tokenizer = ModelTokenizer.load(model.toString());
    int[] ids = tokenizer.encode("hello world, hello world");
    assertThat(ids).isNotEmpty();
    PromptKeys keys = new PromptKeys(tokenizer, 4, 64);
    ObjectNode a = (ObjectNode) Json.parse("{\"prompt\":\"" + "shared words ".repeat(20) + "A\"}");
    ObjectNode b = (ObjectNode) Json.parse("{\"prompt\":\"" + "shared words ".repeat(20) + "B\"}");
    long[] ka = keys.of(a, false).blockKeys();
    long[] kb = keys.of(b, false).blockKeys();
    assertThat(ka.length).isGreaterThan(2);
    assertThat(ka[0]).isEqualTo(kb[0]);
    assertThat(keys.of(a, false).tokens())
        .isEqualTo(tokenizer.encode(PromptKeys.promptText(a.get("prompt"))).length);
    assertThat(ModelTokenizer.load(null)).isNull();
  }

  @Test
  void badFilesAreClearErrors(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> ModelTokenizer.load(dir.resolve("missing.gguf").toString()))
        .hasMessageContaining("is not a file");
    Path junk = Files.writeString(dir.resolve("junk.gguf"), "not a gguf");
    assertThatThrownBy(() -> ModelTokenizer.load(junk.toString()))
        .hasMessageContaining("cannot read");
  }
}
