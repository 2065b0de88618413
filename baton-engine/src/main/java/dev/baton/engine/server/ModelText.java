package dev.baton.engine.server;

import dev.baton.engine.sched.Detokenizer;
import java.util.List;
import java.util.Set;

/** What the HTTP layer needs from the model's tokenizer and chat template. */
public interface ModelText {

  /** One chat message: role and plain-text content. */
  record ChatMessage(String role, String content) {}

  /** Token ids of {@code text}; {@code addSpecial} adds the model's BOS token. */
  int[] encode(String text, boolean addSpecial);

  /** Text of {@code tokens} (special tokens skipped). */
  String decode(int[] tokens);

  /** The text of one token alone, as logprobs report it. */
  String tokenText(int token);

  /** A fresh incremental detokenizer for one request's output. */
  Detokenizer detokenizer();

  /**
   * A fresh incremental detokenizer for output that follows {@code prompt}: a character the
   * prompt's token ids leave unfinished is completed by the output (see {@link
   * dev.baton.model.Detokenizer#continuing(dev.baton.model.Tokenizer, boolean, int[])}).
   */
  default Detokenizer detokenizer(int[] prompt) {
    return detokenizer();
  }

  /** Token ids of a conversation rendered by the model's chat template, ready for generation. */
  int[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt);

  Set<Integer> eosTokenIds();

  int vocabSize();
}
