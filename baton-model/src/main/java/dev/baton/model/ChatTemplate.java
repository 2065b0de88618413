package dev.baton.model;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELResolver;

/**
 * Renders a model's chat template ({@code tokenizer.chat_template}, Jinja) with Jinjava, the way
 * Hugging Face does: {@code trim_blocks} and {@code lstrip_blocks} on, variables {@code messages},
 * {@code add_generation_prompt}, {@code bos_token}, {@code eos_token}, and the functions {@code
 * raise_exception(msg)} and {@code strftime_now(format)}. Templates written for Python Jinja often
 * call Python string methods; the common ones ({@code startswith}, {@code endswith}, {@code upper},
 * {@code lower}, {@code lstrip}, {@code rstrip}, {@code strip(chars)}, {@code split}) are rewritten
 * to Java methods or filters before parsing. Message content is never re-interpreted as template
 * code. Thread-safe.
 */
public final class ChatTemplate {

  /** One chat message. */
  public record Message(String role, String content) {
    public Message {
      if (role == null || content == null) {
        throw new IllegalArgumentException("a chat message needs a role and content");
      }
    }
  }

  /** ChatML (Qwen, SmolLM and others), the fallback of {@link #fromGgufOrChatMl}. */
  public static final String CHATML =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' +"
          + " message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

  private static final Jinjava JINJAVA = newJinjava();

  private final String source;
  private final String prepared;
  private final String bosToken;
  private final String eosToken;

  private ChatTemplate(String source, String bosToken, String eosToken) {
    this.source = source;
    this.prepared = adaptToJinjava(source);
    this.bosToken = bosToken;
    this.eosToken = eosToken;
  }

  /** A template with the given BOS/EOS token strings. */
  public static ChatTemplate of(String template, String bosToken, String eosToken) {
    return new ChatTemplate(
        template, bosToken == null ? "" : bosToken, eosToken == null ? "" : eosToken);
  }

  /** The template of {@code file}; a model without one is a clear error. */
  public static ChatTemplate fromGguf(GgufFile file) {
    String t = file.getString("tokenizer.chat_template", null);
    if (t == null) {
      throw new ModelFormatException(
          file.path() + " has no chat template (tokenizer.chat_template is missing)");
    }
    return of(
        t,
        tokenString(file, "tokenizer.ggml.bos_token_id"),
        tokenString(file, "tokenizer.ggml.eos_token_id"));
  }

  /** The template of {@code file}, or {@link #CHATML} when it has none. */
  public static ChatTemplate fromGgufOrChatMl(GgufFile file) {
    return file.has("tokenizer.chat_template")
        ? fromGguf(file)
        : of(
            CHATML,
            tokenString(file, "tokenizer.ggml.bos_token_id"),
            tokenString(file, "tokenizer.ggml.eos_token_id"));
  }

  private static String tokenString(GgufFile file, String key) {
    if (!file.has(key) || file.arrayLength("tokenizer.ggml.tokens") <= 0) {
      return "";
    }
    long id = file.getLong(key);
    String[] tokens = file.getStringArray("tokenizer.ggml.tokens");
    return id >= 0 && id < tokens.length ? tokens[(int) id] : "";
  }

  /** The template text as the model ships it. */
  public String source() {
    return source;
  }

  /** Renders {@code messages}; ends with the assistant prefix when {@code addGenerationPrompt}. */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    List<Map<String, Object>> maps = new ArrayList<>();
    for (Message m : messages) {
      Map<String, Object> map = new LinkedHashMap<>();
      map.put("role", m.role());
      map.put("content", m.content());
      maps.add(map);
    }
    return renderMaps(maps, addGenerationPrompt, Map.of());
  }

  /**
   * Renders messages given as maps (extra fields such as {@code tool_calls} pass through) with
   * extra template variables ({@code tools}, {@code enable_thinking}, ...).
   */
  public String renderMaps(
      List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
    Map<String, Object> ctx = new HashMap<>(extra);
    ctx.put("messages", messages);
    ctx.put("add_generation_prompt", addGenerationPrompt);
    ctx.put("bos_token", bosToken);
    ctx.put("eos_token", eosToken);
    RenderResult r;
    try {
      r = JINJAVA.renderForResult(prepared, ctx);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("chat template failed: " + rootMessage(e), e);
    }
    for (TemplateError e : r.getErrors()) {
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        String msg = e.getMessage();
        if (e.getException() != null && rootMessage(e.getException()).startsWith(RAISED)) {
          msg = rootMessage(e.getException()).substring(RAISED.length());
        }
        throw new IllegalArgumentException("chat template failed: " + msg);
      }
    }
    return r.getOutput();
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  // ---- Jinjava set-up ----

  private static final String RAISED = "raise_exception: ";

  private static Jinjava newJinjava() {
    JinjavaConfig config =
        JinjavaConfig.newBuilder()
            .withTrimBlocks(true)
            .withLstripBlocks(true)
            .withNestedInterpretationEnabled(false)
            .withFailOnUnknownTokens(false)
            .withElResolver(resolver())
            .withLegacyOverrides(
                LegacyOverrides.newBuilder()
                    // (not withUseNaturalOperatorPrecedence: it makes `not x is defined` bind as
                    // `(not x) is defined`, unlike Python Jinja)
                    .withParseWhitespaceControlStrictly(true)
                    // without this, {{- and -}} do not strip whitespace as Python Jinja does
                    .withUseTrimmingForNotesAndExpressions(true)
                    .build())
            .build();
    Jinjava j = new Jinjava(config);
    j.getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", Object.class));
    j.getGlobalContext()
        .registerFunction(
            new ELFunctionDefinition(
                "", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
    return j;
  }

  /**
   * Rewrites the two Python Jinja constructs Jinjava parses differently: the reversing slice {@code
   * [::-1]} (becomes the {@code reverse} filter) and keyword arguments of {@code namespace(...)}
   * whose values are expressions ({@code namespace(n=messages|length - 1)} would bind as {@code
   * (n=messages|length) - 1}; each value gets parentheses).
   */
  static String adaptToJinjava(String template) {
    String t = template.replace("[::-1]", "|reverse");
    StringBuilder out = new StringBuilder();
    int from = 0;
    int at;
    while ((at = t.indexOf("namespace(", from)) >= 0) {
      int open = at + "namespace(".length();
      int close = matchingParen(t, open);
      if (close < 0) {
        break;
      }
      out.append(t, from, open);
      List<String> args = splitTopLevel(t.substring(open, close));
      for (int i = 0; i < args.size(); i++) {
        String arg = args.get(i);
        int eq = keywordEquals(arg);
        out.append(i > 0 ? "," : "");
        out.append(eq < 0 ? arg : arg.substring(0, eq + 1) + "(" + arg.substring(eq + 1) + ")");
      }
      out.append(')');
      from = close + 1;
    }
    return out.append(t.substring(from)).toString();
  }

  /** Index of the ')' closing the call whose arguments start at {@code from}, or -1. */
  private static int matchingParen(String t, int from) {
    int depth = 0;
    char quote = 0;
    for (int i = from; i < t.length(); i++) {
      char c = t.charAt(i);
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) {
          return c == ')' ? i : -1;
        }
        depth--;
      }
    }
    return -1;
  }

  private static List<String> splitTopLevel(String args) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    char quote = 0;
    int start = 0;
    for (int i = 0; i < args.length(); i++) {
      char c = args.charAt(i);
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      } else if (c == ',' && depth == 0) {
        out.add(args.substring(start, i));
        start = i + 1;
      }
    }
    if (start < args.length() || !out.isEmpty()) {
      out.add(args.substring(start));
    }
    return out;
  }

  /** Position of the '=' of a {@code name=value} argument, or -1. */
  private static int keywordEquals(String arg) {
    int i = 0;
    while (i < arg.length() && Character.isWhitespace(arg.charAt(i))) {
      i++;
    }
    int nameStart = i;
    while (i < arg.length() && (Character.isLetterOrDigit(arg.charAt(i)) || arg.charAt(i) == '_')) {
      i++;
    }
    if (i == nameStart) {
      return -1;
    }
    while (i < arg.length() && Character.isWhitespace(arg.charAt(i))) {
      i++;
    }
    boolean single =
        i < arg.length()
            && arg.charAt(i) == '='
            && (i + 1 >= arg.length() || arg.charAt(i + 1) != '=');
    return single ? i : -1;
  }

  /** Python string methods first, then Jinjava's own resolution. */
  private static ELResolver resolver() {
    CompositeELResolver r = new CompositeELResolver();
    r.add(new PyStringMethods());
    r.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
    return r;
  }

  /** {@code raise_exception(msg)}: aborts rendering with the template's message. */
  public static Object raiseException(Object message) {
    throw new IllegalStateException(RAISED + message);
  }

  /** {@code strftime_now(format)}: the current local time in Python strftime format. */
  public static String strftimeNow(String format) {
    return strftime(LocalDateTime.now(), format);
  }

  static String strftime(LocalDateTime t, String format) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 == format.length()) {
        sb.append(c);
        continue;
      }
      char d = format.charAt(++i);
      switch (d) {
        case 'd' -> sb.append(String.format(Locale.ROOT, "%02d", t.getDayOfMonth()));
        case 'e' -> sb.append(String.format(Locale.ROOT, "%2d", t.getDayOfMonth()));
        case 'm' -> sb.append(String.format(Locale.ROOT, "%02d", t.getMonthValue()));
        case 'Y' -> sb.append(t.getYear());
        case 'y' -> sb.append(String.format(Locale.ROOT, "%02d", t.getYear() % 100));
        case 'H' -> sb.append(String.format(Locale.ROOT, "%02d", t.getHour()));
        case 'I' -> sb.append(String.format(Locale.ROOT, "%02d", (t.getHour() + 11) % 12 + 1));
        case 'M' -> sb.append(String.format(Locale.ROOT, "%02d", t.getMinute()));
        case 'S' -> sb.append(String.format(Locale.ROOT, "%02d", t.getSecond()));
        case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
        case 'j' -> sb.append(String.format(Locale.ROOT, "%03d", t.getDayOfYear()));
        case 'b' -> sb.append(name(t.getMonth().name()).substring(0, 3));
        case 'B' -> sb.append(name(t.getMonth().name()));
        case 'a' -> sb.append(name(t.getDayOfWeek().name()).substring(0, 3));
        case 'A' -> sb.append(name(t.getDayOfWeek().name()));
        case '%' -> sb.append('%');
        default -> sb.append('%').append(d);
      }
    }
    return sb.toString();
  }

  private static String name(String upper) {
    return upper.charAt(0) + upper.substring(1).toLowerCase(Locale.ROOT);
  }
}
