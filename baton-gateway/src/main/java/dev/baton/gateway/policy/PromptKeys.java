package dev.baton.gateway.policy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.BlockHash;
import java.util.List;

/**
 * Cuts a request's prompt into chained block hashes ({@link BlockHash}) for the prefix index. With
 * a tokenizer the blocks are {@code blockSize} tokens, as the workers' caches see them; without one
 * they are {@code charsPerBlock} characters, an approximation that still keeps equal prefixes
 * together.
 */
public final class PromptKeys {

  /**
   * A prompt's block keys and its estimated token count. {@code exact}: the keys are token blocks
   * as a worker's cache holds them (a tokenizer or a token prompt), so a worker's KV events can
   * confirm them; character blocks only approximate.
   */
  public record Prompt(long[] blockKeys, int tokens, int tokensPerBlock, boolean exact) {
    public Prompt(long[] blockKeys, int tokens, int tokensPerBlock) {
      this(blockKeys, tokens, tokensPerBlock, false);
    }
  }

  private final PromptTokenizer tokenizer;
  private final int blockSize;
  private final int charsPerBlock;

  public PromptKeys(PromptTokenizer tokenizer, int blockSize, int charsPerBlock) {
    this.tokenizer = tokenizer;
    this.blockSize = Math.max(1, blockSize);
    this.charsPerBlock = Math.max(1, charsPerBlock);
  }

  public boolean usesTokenizer() {
    return tokenizer != null;
  }

  /**
   * The extra keys of the gateway's block hashes: only the {@code cache_salt}. The model is left
   * out because a worker's KV events do not name it (a pool's workers serve one model).
   */
  public static String extraKeys(String cacheSalt) {
    return BlockHash.extraKeys("", "gateway", cacheSalt);
  }

  public Prompt of(JsonNode body, boolean chat) {
    String extra = extraKeys(body.path("cache_salt").asText(null));
    JsonNode prompt = body.get("prompt");
    if (!chat && prompt != null && prompt.isArray() && !prompt.isEmpty() && prompt.get(0).isInt()) {
      int[] ids = new int[prompt.size()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = prompt.get(i).asInt();
      }
      return hash(ids, blockSize, ids.length, extra, true);
    }
    if (tokenizer != null) {
      int[] ids =
          chat ? tokenizer.encodeChat(body.path("messages")) : tokenizer.encode(promptText(prompt));
      return hash(ids, blockSize, ids.length, extra, true);
    }
    String text = chat ? chatText(body.path("messages")) : promptText(prompt);
    int[] chars = text.codePoints().toArray();
    return hash(chars, charsPerBlock, (chars.length + 3) / 4, extra, false);
  }

  private static Prompt hash(int[] ids, int size, int tokens, String extra, boolean exact) {
    List<byte[]> chain = BlockHash.chain(ids, ids.length, size, extra);
    long[] keys = new long[chain.size()];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = BlockHash.shortKey(chain.get(i));
    }
    int tokensPerBlock =
        ids.length == 0 ? 1 : Math.max(1, (int) ((long) tokens * size / ids.length));
    return new Prompt(keys, tokens, tokensPerBlock, exact);
  }

  public static String promptText(JsonNode prompt) {
    if (prompt == null || prompt.isNull()) {
      return "";
    }
    if (prompt.isArray()) {
      StringBuilder sb = new StringBuilder();
      prompt.forEach(p -> sb.append(p.asText()).append('\n'));
      return sb.toString();
    }
    return prompt.asText();
  }

  public static String chatText(JsonNode messages) {
    StringBuilder sb = new StringBuilder();
    for (JsonNode m : messages) {
      sb.append(m.path("role").asText()).append('\n');
      JsonNode content = m.path("content");
      if (content.isArray()) {
        for (JsonNode part : content) {
          sb.append(part.path("text").asText());
        }
      } else {
        sb.append(content.asText());
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
