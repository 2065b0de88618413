package dev.baton.engine.server;

import dev.baton.model.GgufFile;

/**
 * Chat prompt formats recognised from a GGUF's {@code tokenizer.chat_template}: Llama 3 and ChatML
 * (Qwen) by their markers, otherwise a plain "role: content" transcript.
 */
final class ChatFormats {

  private ChatFormats() {}

  static GgufModelText.ChatFormat fromGguf(GgufFile file) {
    String template = file.getString("tokenizer.chat_template", "");
    if (template.contains("<|start_header_id|>")) {
      return ChatFormats::llama3;
    }
    if (template.contains("<|im_start|>")) {
      return ChatFormats::chatMl;
    }
    return ChatFormats::plain;
  }

  static String llama3(
      java.util.List<ModelText.ChatMessage> messages, boolean addGenerationPrompt) {
    StringBuilder sb = new StringBuilder("<|begin_of_text|>");
    for (ModelText.ChatMessage m : messages) {
      sb.append("<|start_header_id|>")
          .append(m.role())
          .append("<|end_header_id|>\n\n")
          .append(m.content().strip())
          .append("<|eot_id|>");
    }
    if (addGenerationPrompt) {
      sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
    }
    return sb.toString();
  }

  static String chatMl(
      java.util.List<ModelText.ChatMessage> messages, boolean addGenerationPrompt) {
    StringBuilder sb = new StringBuilder();
    for (ModelText.ChatMessage m : messages) {
      sb.append("<|im_start|>")
          .append(m.role())
          .append('\n')
          .append(m.content())
          .append("<|im_end|>\n");
    }
    if (addGenerationPrompt) {
      sb.append("<|im_start|>assistant\n");
    }
    return sb.toString();
  }

  static String plain(java.util.List<ModelText.ChatMessage> messages, boolean addGenerationPrompt) {
    StringBuilder sb = new StringBuilder();
    for (ModelText.ChatMessage m : messages) {
      sb.append(m.role()).append(": ").append(m.content()).append('\n');
    }
    if (addGenerationPrompt) {
      sb.append("assistant: ");
    }
    return sb.toString();
  }
}
