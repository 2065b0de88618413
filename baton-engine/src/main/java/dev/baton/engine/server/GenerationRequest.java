package dev.baton.engine.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A validated {@code /v1/completions} or {@code /v1/chat/completions} request, prompts already
 * tokenized. {@link #parse} turns every problem into a 400 (or 404 for an unknown model) naming the
 * parameter, so bad input never reaches the engine.
 */
public record GenerationRequest(
    boolean chat,
    List<int[]> prompts,
    int n,
    int maxTokens,
    int minTokens,
    boolean ignoreEos,
    List<String> stop,
    Set<Integer> stopTokenIds,
    int logprobs,
    boolean stream,
    boolean includeUsage,
    String cacheSalt,
    JsonNode kvTransferParams,
    boolean returnTokenIds,
    boolean skipSpecialTokens,
    SamplingSettings sampling) {

  static final int MAX_N = 16;
  static final int MAX_LOGPROBS = 20;
  static final int MAX_PROMPTS = 256;

  /** Parses and validates a request body. */
  public static GenerationRequest parse(
      JsonNode body, boolean chat, ModelText text, String servedModel, int maxModelLen) {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest(null, "the request body must be a JSON object");
    }
    JsonNode model = body.get("model");
    if (model != null && !model.isNull()) {
      if (!model.isTextual()) {
        throw ApiException.badRequest("model", "'model' must be a string");
      }
      if (!model.asText().equals(servedModel)) {
        throw new ApiException(
            404, "The model `" + model.asText() + "` does not exist.", "model", "model_not_found");
      }
    }
    List<int[]> prompts = chat ? List.of(chatPrompt(body, text)) : completionPrompts(body, text);
    for (int[] p : prompts) {
      for (int t : p) {
        if (t < 0 || t >= text.vocabSize()) {
          throw ApiException.badRequest(
              "prompt",
              "token id " + t + " is outside the vocabulary [0, " + text.vocabSize() + ")");
        }
      }
    }
    int longest = 0;
    for (int[] p : prompts) {
      longest = Math.max(longest, p.length);
    }
    if (longest >= maxModelLen) {
      throw new ApiException(
          400,
          "This model's maximum context length is "
              + maxModelLen
              + " tokens. However, your request has "
              + longest
              + " input tokens. Please reduce the length of the input.",
          chat ? "messages" : "prompt",
          "context_length_exceeded");
    }
    for (String unsupported : List.of("suffix", "prompt_logprobs")) {
      if (body.hasNonNull(unsupported)) {
        throw ApiException.badRequest(unsupported, "'" + unsupported + "' is not supported");
      }
    }
    if (optBool(body, "echo", false)) {
      throw ApiException.badRequest("echo", "'echo' is not supported");
    }
    JsonNode tools = body.get("tools");
    if (tools != null && !tools.isNull() && !(tools.isArray() && tools.isEmpty())) {
      throw ApiException.badRequest("tools", "tool calling is not supported");
    }
    // Never a 200 that ignores what the client asked for: these are refused until supported.
    JsonNode toolChoice = body.get("tool_choice");
    if (toolChoice != null
        && !toolChoice.isNull()
        && !(toolChoice.isTextual() && toolChoice.asText().equals("none"))) {
      throw ApiException.badRequest("tool_choice", "tool calling is not supported");
    }
    JsonNode format = body.get("response_format");
    if (format != null
        && !format.isNull()
        && !(format.isObject() && format.path("type").asText().equals("text"))) {
      throw ApiException.badRequest(
          "response_format", "structured output ('response_format') is not supported");
    }
    for (String unsupported :
        List.of("chat_template", "guided_json", "guided_regex", "guided_choice")) {
      if (body.hasNonNull(unsupported)) {
        throw ApiException.badRequest(unsupported, "'" + unsupported + "' is not supported");
      }
    }
    int n = optInt(body, "n", 1, 1, MAX_N);
    Integer bestOf = optIntOrNull(body, "best_of", 1, MAX_N);
    if (bestOf != null && bestOf != n) {
      throw ApiException.badRequest("best_of", "'best_of' other than n is not supported");
    }
    Integer maxTokens = optIntOrNull(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
    if (maxTokens == null) {
      maxTokens = optIntOrNull(body, "max_tokens", 1, Integer.MAX_VALUE);
    }
    int room = maxModelLen - longest;
    if (maxTokens == null) {
      maxTokens = chat ? room : Math.min(16, room);
    } else if (maxTokens > room) {
      throw new ApiException(
          400,
          "This model's maximum context length is "
              + maxModelLen
              + " tokens. However, you requested "
              + (longest + maxTokens)
              + " tokens ("
              + longest
              + " in the input, "
              + maxTokens
              + " in the completion). Please reduce the length of the input or completion.",
          "max_tokens",
          "context_length_exceeded");
    }
    int minTokens = optInt(body, "min_tokens", 0, 0, Integer.MAX_VALUE);
    if (minTokens > maxTokens) {
      throw ApiException.badRequest("min_tokens", "'min_tokens' must not exceed max_tokens");
    }
    int logprobs = -1;
    if (chat) {
      if (optBool(body, "logprobs", false)) {
        logprobs = optInt(body, "top_logprobs", 0, 0, MAX_LOGPROBS);
      } else if (body.hasNonNull("top_logprobs")) {
        optInt(body, "top_logprobs", 0, 0, MAX_LOGPROBS);
        throw ApiException.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs': true");
      }
    } else {
      Integer lp = optIntOrNull(body, "logprobs", 0, MAX_LOGPROBS);
      logprobs = lp == null ? -1 : lp;
    }
    boolean stream = optBool(body, "stream", false);
    boolean includeUsage = false;
    JsonNode so = body.get("stream_options");
    if (so != null && !so.isNull()) {
      if (!so.isObject()) {
        throw ApiException.badRequest("stream_options", "'stream_options' must be an object");
      }
      if (!stream) {
        throw ApiException.badRequest(
            "stream_options", "'stream_options' is only allowed when 'stream' is true");
      }
      includeUsage = optBool(so, "include_usage", false);
    }
    JsonNode kv = body.get("kv_transfer_params");
    if (kv != null && kv.isNull()) {
      kv = null;
    }
    if (kv != null && !kv.isObject()) {
      throw ApiException.badRequest("kv_transfer_params", "'kv_transfer_params' must be an object");
    }
    String salt = optString(body, "cache_salt");
    if (salt != null && salt.isEmpty()) {
      throw ApiException.badRequest("cache_salt", "'cache_salt' must not be empty");
    }
    optString(body, "user");
    double temperature = optDouble(body, "temperature", 1.0, 0, 100);
    double topP = optDouble(body, "top_p", 1.0, 0, 1);
    if (body.hasNonNull("top_p") && topP == 0) {
      throw ApiException.badRequest("top_p", "'top_p' must be in (0, 1]");
    }
    int topK = optInt(body, "top_k", -1, -1, Integer.MAX_VALUE);
    double minP = optDouble(body, "min_p", 0, 0, 1);
    Long seed = null;
    JsonNode seedNode = body.get("seed");
    if (seedNode != null && !seedNode.isNull()) {
      if (!seedNode.isIntegralNumber() || !seedNode.canConvertToLong()) {
        throw ApiException.badRequest("seed", "'seed' must be an integer");
      }
      seed = seedNode.asLong();
    }
    double presence = optDouble(body, "presence_penalty", 0, -2, 2);
    double frequency = optDouble(body, "frequency_penalty", 0, -2, 2);
    double repetition = optDouble(body, "repetition_penalty", 1, 0, 2);
    if (repetition <= 0) {
      throw ApiException.badRequest("repetition_penalty", "'repetition_penalty' must be > 0");
    }
    return new GenerationRequest(
        chat,
        prompts,
        n,
        maxTokens,
        minTokens,
        optBool(body, "ignore_eos", false),
        stopStrings(body),
        stopTokenIds(body, text.vocabSize()),
        logprobs,
        stream,
        includeUsage,
        salt,
        kv,
        optBool(body, "return_token_ids", false),
        optBool(body, "skip_special_tokens", true),
        new SamplingSettings(
            temperature,
            topP,
            topK,
            minP,
            seed,
            presence,
            frequency,
            repetition,
            logitBias(body, text.vocabSize())));
  }

  /**
   * OpenAI's {@code logit_bias}: token ids (as JSON object keys) to a bias in [-100, 100] added to
   * that token's logit.
   */
  static java.util.Map<Integer, Float> logitBias(JsonNode body, int vocabSize) {
    JsonNode node = body.get("logit_bias");
    if (node == null || node.isNull()) {
      return java.util.Map.of();
    }
    if (!node.isObject()) {
      throw ApiException.badRequest(
          "logit_bias", "'logit_bias' must be an object of token id to bias");
    }
    java.util.Map<Integer, Float> out = new java.util.HashMap<>();
    for (var e : node.properties()) {
      int id;
      try {
        id = Integer.parseInt(e.getKey().strip());
      } catch (NumberFormatException ex) {
        throw ApiException.badRequest(
            "logit_bias", "'logit_bias' keys must be token ids, got '" + e.getKey() + "'");
      }
      if (id < 0 || id >= vocabSize) {
        throw ApiException.badRequest(
            "logit_bias", "token id " + id + " is outside the vocabulary [0, " + vocabSize + ")");
      }
      JsonNode v = e.getValue();
      if (!v.isNumber() || v.asDouble() < -100 || v.asDouble() > 100) {
        throw ApiException.badRequest(
            "logit_bias", "the bias of token " + id + " must be a number in [-100, 100]");
      }
      out.put(id, (float) v.asDouble());
    }
    return out;
  }

  private static int[] chatPrompt(JsonNode body, ModelText text) {
    JsonNode messages = body.get("messages");
    if (messages == null || !messages.isArray() || messages.isEmpty()) {
      throw ApiException.badRequest("messages", "'messages' must be a non-empty array");
    }
    List<ModelText.ChatMessage> list = new ArrayList<>();
    for (JsonNode m : messages) {
      if (!m.isObject() || !m.path("role").isTextual()) {
        throw ApiException.badRequest(
            "messages", "every message must be an object with a string 'role'");
      }
      String role = m.get("role").asText();
      if (!Set.of("system", "developer", "user", "assistant", "tool").contains(role)) {
        throw ApiException.badRequest("messages", "unknown message role '" + role + "'");
      }
      list.add(new ModelText.ChatMessage(role, content(m.get("content"))));
    }
    boolean addGenerationPrompt = optBool(body, "add_generation_prompt", true);
    return text.encodeChat(list, addGenerationPrompt);
  }

  private static String content(JsonNode c) {
    if (c == null || c.isNull()) {
      return "";
    }
    if (c.isTextual()) {
      return c.asText();
    }
    if (c.isArray()) {
      StringBuilder sb = new StringBuilder();
      for (JsonNode part : c) {
        if (!part.isObject() || !"text".equals(part.path("type").asText())) {
          throw ApiException.badRequest("messages", "only text content parts are supported");
        }
        if (!part.path("text").isTextual()) {
          throw ApiException.badRequest("messages", "a text content part needs a string 'text'");
        }
        sb.append(part.get("text").asText());
      }
      return sb.toString();
    }
    throw ApiException.badRequest("messages", "message 'content' must be a string or an array");
  }

  private static List<int[]> completionPrompts(JsonNode body, ModelText text) {
    JsonNode p = body.get("prompt");
    if (p == null || p.isNull()) {
      throw ApiException.badRequest("prompt", "'prompt' is required");
    }
    List<int[]> out = new ArrayList<>();
    if (p.isTextual()) {
      out.add(text.encode(p.asText(), true));
    } else if (p.isArray() && !p.isEmpty() && p.get(0).isNumber()) {
      out.add(tokenIds(p));
    } else if (p.isArray() && !p.isEmpty()) {
      if (p.size() > MAX_PROMPTS) {
        throw ApiException.badRequest("prompt", "at most " + MAX_PROMPTS + " prompts per request");
      }
      for (JsonNode item : p) {
        if (item.isTextual()) {
          out.add(text.encode(item.asText(), true));
        } else if (item.isArray() && !item.isEmpty()) {
          out.add(tokenIds(item));
        } else {
          throw ApiException.badRequest(
              "prompt", "a batch prompt must hold strings or non-empty lists of token ids");
        }
      }
    } else {
      throw ApiException.badRequest(
          "prompt",
          "'prompt' must be a string, a list of token ids, or a non-empty list of either");
    }
    for (int[] ids : out) {
      if (ids.length == 0) {
        throw ApiException.badRequest("prompt", "the prompt is empty");
      }
    }
    return out;
  }

  private static int[] tokenIds(JsonNode arr) {
    int[] ids = new int[arr.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonNode t = arr.get(i);
      if (!t.isIntegralNumber() || !t.canConvertToInt()) {
        throw ApiException.badRequest("prompt", "token ids must be integers");
      }
      ids[i] = t.asInt();
    }
    return ids;
  }

  private static List<String> stopStrings(JsonNode body) {
    JsonNode s = body.get("stop");
    if (s == null || s.isNull()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (s.isTextual()) {
      out.add(s.asText());
    } else if (s.isArray() && s.size() <= 16) {
      for (JsonNode item : s) {
        if (!item.isTextual()) {
          throw ApiException.badRequest("stop", "'stop' must hold strings");
        }
        out.add(item.asText());
      }
    } else {
      throw ApiException.badRequest("stop", "'stop' must be a string or up to 16 strings");
    }
    for (String str : out) {
      if (str.isEmpty()) {
        throw ApiException.badRequest("stop", "stop strings must not be empty");
      }
    }
    return out;
  }

  private static Set<Integer> stopTokenIds(JsonNode body, int vocab) {
    JsonNode s = body.get("stop_token_ids");
    if (s == null || s.isNull()) {
      return Set.of();
    }
    if (!s.isArray()) {
      throw ApiException.badRequest("stop_token_ids", "'stop_token_ids' must be a list");
    }
    Set<Integer> out = new HashSet<>();
    for (JsonNode t : s) {
      if (!t.isIntegralNumber() || !t.canConvertToInt() || t.asInt() < 0 || t.asInt() >= vocab) {
        throw ApiException.badRequest("stop_token_ids", "stop token ids must be in the vocabulary");
      }
      out.add(t.asInt());
    }
    return out;
  }

  static boolean optBool(JsonNode body, String name, boolean dflt) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw ApiException.badRequest(name, "'" + name + "' must be a boolean");
    }
    return v.asBoolean();
  }

  static String optString(JsonNode body, String name) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw ApiException.badRequest(name, "'" + name + "' must be a string");
    }
    return v.asText();
  }

  static int optInt(JsonNode body, String name, int dflt, int min, int max) {
    Integer v = optIntOrNull(body, name, min, max);
    return v == null ? dflt : v;
  }

  static Integer optIntOrNull(JsonNode body, String name, int min, int max) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber()) {
      throw ApiException.badRequest(name, "'" + name + "' must be an integer");
    }
    if (!v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
      throw ApiException.badRequest(
          name, "'" + name + "' must be between " + min + " and " + max + ", got " + v.asText());
    }
    return v.asInt();
  }

  static double optDouble(JsonNode body, String name, double dflt, double min, double max) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isNumber()) {
      throw ApiException.badRequest(name, "'" + name + "' must be a number");
    }
    double d = v.asDouble();
    if (!Double.isFinite(d) || d < min || d > max) {
      throw ApiException.badRequest(
          name, "'" + name + "' must be between " + min + " and " + max + ", got " + v.asText());
    }
    return d;
  }
}
