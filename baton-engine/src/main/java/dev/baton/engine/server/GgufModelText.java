package dev.baton.engine.server;

import dev.baton.engine.sched.Detokenizer;
import dev.baton.model.ChatTemplate;
import dev.baton.model.GgufFile;
import dev.baton.model.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@link ModelText} over a GGUF model's own tokenizer and Jinja chat template (ChatML when the
 * model has none).
 */
final class GgufModelText implements ModelText {

  private final Tokenizer tokenizer;
  private final ChatTemplate chat;
  private final Set<Integer> eos;
  private final String[] pieces;

  GgufModelText(Tokenizer tokenizer, ChatTemplate chat) {
    this.tokenizer = tokenizer;
    this.chat = chat;
    Set<Integer> ids = new HashSet<>();
    for (int id : tokenizer.eosIds()) {
      ids.add(id);
    }
    this.eos = Set.copyOf(ids);
    this.pieces = new String[tokenizer.vocabSize()];
  }

  static GgufModelText load(GgufFile file) {
    Tokenizer t = Tokenizer.fromGguf(file);
    return new GgufModelText(t, ChatTemplate.fromGgufOrChatMl(file));
  }

  @Override
  public int[] encode(String text, boolean addSpecial) {
    return tokenizer.encode(text, addSpecial && tokenizer.addBosByDefault(), false);
  }

  @Override
  public String decode(int[] tokens) {
    return tokenizer.decode(tokens);
  }

  @Override
  public String tokenText(int token) {
    String s = pieces[token];
    if (s == null) {
      s = new String(tokenizer.tokenBytes(token, true), StandardCharsets.UTF_8);
      pieces[token] = s;
    }
    return s;
  }

  @Override
  public Detokenizer detokenizer() {
    // Output continues the prompt: keep SentencePiece's leading word space on the first token.
    dev.baton.model.Detokenizer d = dev.baton.model.Detokenizer.continuing(tokenizer, false);
    return d::push;
  }

  @Override
  public Detokenizer detokenizer(int[] prompt) {
    dev.baton.model.Detokenizer d =
        dev.baton.model.Detokenizer.continuing(tokenizer, false, prompt);
    return d::push;
  }

  @Override
  public int[] encodeChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
    List<ChatTemplate.Message> list = new ArrayList<>(messages.size());
    for (ChatMessage m : messages) {
      list.add(new ChatTemplate.Message(m.role(), m.content()));
    }
    String prompt;
    try {
      prompt = chat.render(list, addGenerationPrompt);
    } catch (IllegalArgumentException e) {
      // e.g. the template's raise_exception("roles must alternate")
      throw ApiException.badRequest("messages", e.getMessage());
    }
    // The template writes the BOS itself; special tokens in it are parsed as such.
    return tokenizer.encode(prompt, false, true);
  }

  @Override
  public Set<Integer> eosTokenIds() {
    return eos;
  }

  @Override
  public int vocabSize() {
    return tokenizer.vocabSize();
  }
}
