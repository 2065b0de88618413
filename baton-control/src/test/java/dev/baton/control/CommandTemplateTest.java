package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CommandTemplateTest {

  @Test
  void splitsLikeAShell() {
    assertThat(CommandTemplate.split("a  'b c' \"d \\\"e\\\"\" f\\ g '{\"k\":1}'"))
        .containsExactly("a", "b c", "d \"e\"", "f g", "{\"k\":1}");
    assertThat(CommandTemplate.split("   ")).isEmpty();
    assertThatThrownBy(() -> CommandTemplate.split("a 'b")).hasMessageContaining("unclosed");
  }

  @Test
  void expandsPlaceholdersAndTheBatonCommand() {
    List<String> out =
        CommandTemplate.expand(
            List.of("{baton}", "serve", "--port={port}", "{model}"),
            List.of("java", "-cp", "x", "Main"),
            Map.of("port", "8100", "model", "/m.gguf"));
    assertThat(out).containsExactly("java", "-cp", "x", "Main", "serve", "--port=8100", "/m.gguf");
  }

  @Test
  void unknownOrUnsetPlaceholdersAreErrors() {
    assertThatThrownBy(() -> CommandTemplate.checkPlaceholders(List.of("--x={nope}")))
        .hasMessageContaining("unknown placeholder {nope}");
    assertThatThrownBy(() -> CommandTemplate.expand(List.of("{port}"), List.of(), Map.of()))
        .hasMessageContaining("{port} has no value");
  }
}
