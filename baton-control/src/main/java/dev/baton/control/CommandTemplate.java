package dev.baton.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A process command line with {@code {placeholder}} slots, so a role can run an external engine (a
 * vLLM or SGLang command line) with the port, model and KV settings the control plane chose. An
 * item that is exactly {@code {baton}} expands to the whole command that runs the Baton CLI.
 */
public final class CommandTemplate {

  /** Every placeholder a template may use (docs/CLUSTER_SPEC.md describes each). */
  public static final Set<String> PLACEHOLDERS =
      Set.of(
          "baton",
          "java",
          "classpath",
          "model",
          "host",
          "port",
          "bootstrap_port",
          "side_channel_port",
          "gpu",
          "cpus",
          "threads",
          "role",
          "kv_role",
          "group",
          "worker",
          "cluster",
          "kv_config",
          "kv_secret",
          "kv_secret_file",
          "run_dir",
          "gateway_config");

  private static final Pattern SLOT = Pattern.compile("\\{([a-z_]+)}");

  private CommandTemplate() {}

  /** Rejects unknown placeholders, naming the allowed ones. */
  public static void checkPlaceholders(List<String> template) {
    for (String item : template) {
      Matcher m = SLOT.matcher(item);
      while (m.find()) {
        if (!PLACEHOLDERS.contains(m.group(1))) {
          throw new IllegalArgumentException(
              "unknown placeholder {"
                  + m.group(1)
                  + "} (known: "
                  + String.join(", ", PLACEHOLDERS.stream().sorted().toList())
                  + ")");
        }
      }
    }
  }

  /**
   * Fills a template. {@code baton} is the command that runs the Baton CLI and replaces an item
   * that is exactly {@code {baton}}; other values are substituted inside items.
   */
  public static List<String> expand(
      List<String> template, List<String> baton, Map<String, String> values) {
    List<String> out = new ArrayList<>();
    for (String item : template) {
      if (item.equals("{baton}")) {
        out.addAll(baton);
        continue;
      }
      Matcher m = SLOT.matcher(item);
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        String value = values.get(m.group(1));
        if (value == null) {
          throw new IllegalArgumentException(
              "placeholder {" + m.group(1) + "} has no value for this process");
        }
        m.appendReplacement(sb, Matcher.quoteReplacement(value));
      }
      m.appendTail(sb);
      out.add(sb.toString());
    }
    return out;
  }

  /**
   * Splits a command string the way a POSIX shell splits words: whitespace separates, single quotes
   * keep everything, double quotes keep everything but {@code \"} and {@code \\}.
   */
  public static List<String> split(String command) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    char quote = 0;
    for (int i = 0; i < command.length(); i++) {
      char c = command.charAt(i);
      if (quote == '\'') {
        if (c == '\'') {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (quote == '"') {
        if (c == '"') {
          quote = 0;
        } else if (c == '\\'
            && i + 1 < command.length()
            && "\"\\".indexOf(command.charAt(i + 1)) >= 0) {
          word.append(command.charAt(++i));
        } else {
          word.append(c);
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        inWord = true;
      } else if (c == '\\' && i + 1 < command.length()) {
        word.append(command.charAt(++i));
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        word.append(c);
        inWord = true;
      }
    }
    if (quote != 0) {
      throw new IllegalArgumentException("unclosed " + quote + " quote in: " + command);
    }
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }
}
