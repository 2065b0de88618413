package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.gateway.policy.PromptKeys;
import dev.baton.gateway.policy.PromptTokenizer;
import dev.baton.model.ChatTemplate;
import dev.baton.model.GgufFile;
import dev.baton.model.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads the model's tokenizer and chat template from the GGUF file named by the config's {@code
 * tokenizer} key, so the prefix index cuts prompts into the same token blocks the workers' caches
 * hold (and their KV events name): a completion prompt with the model's BOS, a chat through its
 * template with the generation prompt, as a Baton worker encodes them. Without one the index falls
 * back to character chunks.
 */
public final class ModelTokenizer implements PromptTokenizer {

  private final Tokenizer tokenizer;
  private final ChatTemplate template;

  private ModelTokenizer(Tokenizer tokenizer, ChatTemplate template) {
    this.tokenizer = tokenizer;
    this.template = template;
  }

  /** The tokenizer of the GGUF file at {@code path}; null when {@code path} is null. */
  public static PromptTokenizer load(String path) {
    if (path == null) {
      return null;
    }
    Path file = Path.of(path);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("tokenizer: " + path + " is not a file");
    }
    try (GgufFile gguf = GgufFile.open(file)) {
      return new ModelTokenizer(Tokenizer.fromGguf(gguf), ChatTemplate.fromGgufOrChatMl(gguf));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "tokenizer: cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  @Override
  public int[] encode(String text) {
    return tokenizer.encode(text);
  }

  @Override
  public int[] encodeChat(JsonNode messages) {
    List<ChatTemplate.Message> list = new ArrayList<>();
    for (JsonNode m : messages) {
      list.add(new ChatTemplate.Message(m.path("role").asText(), content(m.path("content"))));
    }
    try {
      // The template writes the BOS itself; special tokens in it are parsed as such.
      return tokenizer.encode(template.render(list, true), false, true);
    } catch (RuntimeException e) {
      // A chat the template refuses: the worker will refuse it too; any keys will do.
      return encode(PromptKeys.chatText(messages));
    }
  }

  private static String content(JsonNode c) {
    if (c.isArray()) {
      StringBuilder sb = new StringBuilder();
      c.forEach(part -> sb.append(part.path("text").asText()));
      return sb.toString();
    }
    return c.asText("");
  }
}
