package dev.baton.cli;

import dev.baton.model.GgufFile;

/** Renders a one-message user conversation with the model's chat template. */
final class ChatPrompt {

  private ChatPrompt() {}

  static String render(GgufFile file, String userMessage) {
    if (!file.has("tokenizer.chat_template")) {
      throw new IllegalArgumentException(
          file.path() + " has no chat template (tokenizer.chat_template); drop --chat");
    }
    throw new IllegalArgumentException("--chat: chat templates are not supported yet");
  }
}
