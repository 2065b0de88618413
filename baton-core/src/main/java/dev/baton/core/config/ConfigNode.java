package dev.baton.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One mapping of a configuration tree (JSON or YAML) at a key path, read with its types checked.
 * Every module reads its config through this class, so every mistake names the key path the same
 * way ({@code pools[0].workers[1].role must be ...}).
 *
 * <p>A problem either throws a {@link ConfigException} at once ({@link #strict}: flags, request
 * bodies) or is collected and the reader carries on with the fallback ({@link #collecting}: a whole
 * cluster spec is checked and every problem reported in one go).
 */
public final class ConfigNode {

  private final String path;
  private final JsonNode node;
  private final Consumer<String> problems;

  private ConfigNode(String path, JsonNode node, Consumer<String> problems) {
    this.path = path;
    this.node = node == null || node.isNull() || node.isMissingNode() ? null : node;
    this.problems = problems;
    if (this.node != null && !this.node.isObject()) {
      problem(label() + ": must be a mapping, got " + describe(this.node));
    }
  }

  /** A reader that throws {@link ConfigException} on the first problem; {@code path} may be "". */
  public static ConfigNode strict(String path, JsonNode node) {
    return new ConfigNode(
        path,
        node,
        message -> {
          throw new ConfigException(message);
        });
  }

  /** A reader that adds every problem to {@code problems} and carries on with fallbacks. */
  public static ConfigNode collecting(String path, JsonNode node, List<String> problems) {
    return new ConfigNode(path, node, problems::add);
  }

  /** The key path of this mapping ("" at the root). */
  public String path() {
    return path;
  }

  /** The mapping itself, or null when absent (or not a mapping). */
  public JsonNode raw() {
    return node != null && node.isObject() ? node : null;
  }

  public boolean present() {
    return raw() != null;
  }

  /** Whether the mapping was not given at all (null or missing, as opposed to a wrong type). */
  public boolean absent() {
    return node == null;
  }

  /** Whether {@code name} is set to something other than null. */
  public boolean has(String name) {
    return get(name) != null;
  }

  /** The key path of a field of this mapping. */
  public String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  /** Reports a problem at this mapping (thrown or collected, as the reader was made). */
  public void problem(String message) {
    problems.accept(message);
  }

  /** Reports every key other than {@code names}, suggesting a near miss. */
  public void only(String... names) {
    JsonNode map = raw();
    if (map == null) {
      return;
    }
    Set<String> allowed = Set.of(names);
    List<String> fields = new ArrayList<>();
    map.fieldNames().forEachRemaining(fields::add);
    for (String field : fields) {
      if (!allowed.contains(field)) {
        problem(
            "unknown key '"
                + key(field)
                + "'"
                + suggestion(field, names)
                + " (allowed: "
                + String.join(", ", Arrays.stream(names).sorted().toList())
                + ")");
      }
    }
  }

  /** The field names of this mapping, in order. */
  public List<String> fieldNames() {
    List<String> out = new ArrayList<>();
    JsonNode map = raw();
    if (map != null) {
      map.fieldNames().forEachRemaining(out::add);
    }
    return out;
  }

  /** A nested mapping; absent gives an empty reader. */
  public ConfigNode child(String name) {
    return new ConfigNode(key(name), get(name), problems);
  }

  /** A list of mappings; absent gives an empty list. */
  public List<ConfigNode> list(String name) {
    JsonNode v = get(name);
    if (v == null) {
      return List.of();
    }
    if (!v.isArray()) {
      problem(key(name) + ": must be a list, got " + describe(v));
      return List.of();
    }
    List<ConfigNode> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      out.add(new ConfigNode(key(name) + "[" + i + "]", v.get(i), problems));
    }
    return out;
  }

  /** A list of texts; absent gives an empty list. */
  public List<String> strings(String name) {
    JsonNode v = get(name);
    if (v == null) {
      return List.of();
    }
    if (!v.isArray()) {
      problem(key(name) + ": must be a list of strings, got " + describe(v));
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode item = v.get(i);
      if (!item.isTextual() && !item.isNumber()) {
        problem(key(name) + "[" + i + "]: must be a string, got " + describe(item));
      } else {
        out.add(item.asText());
      }
    }
    return out;
  }

  /** A mapping of texts; absent gives an empty map. */
  public Map<String, String> stringMap(String name) {
    ConfigNode map = child(name);
    Map<String, String> out = new java.util.LinkedHashMap<>();
    for (String field : map.fieldNames()) {
      String value = map.text(field, null);
      if (value != null) {
        out.put(field, value);
      }
    }
    return out;
  }

  /** Text (a number is read as its text); absent gives {@code fallback}. */
  public String text(String name, String fallback) {
    JsonNode v = get(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isTextual() && !v.isNumber()) {
      problem(key(name) + ": must be a string, got " + describe(v));
      return fallback;
    }
    return v.asText();
  }

  /** Text that must be there and not blank. */
  public String requiredText(String name) {
    String value = text(name, null);
    if (value == null && !has(name)) {
      problem(key(name) + ": required");
    } else if (value != null && value.isBlank()) {
      problem(key(name) + ": must not be empty");
      return null;
    }
    return value;
  }

  /** A whole number of any sign that fits an int; absent gives {@code fallback}. */
  public int integer(String name, int fallback) {
    JsonNode v = get(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      problem(key(name) + ": must be an integer, got " + describe(v));
      return fallback;
    }
    return v.intValue();
  }

  /** A whole number >= 0; absent gives {@code fallback}. */
  public int nonNegativeInt(String name, int fallback) {
    int value = integer(name, fallback);
    if (value < 0 && has(name)) {
      problem(key(name) + ": must not be negative, got " + value);
      return fallback;
    }
    return value;
  }

  /** A whole number > 0 that fits a long; absent gives {@code fallback}. */
  public long positiveLong(String name, long fallback) {
    JsonNode v = get(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() <= 0) {
      problem(key(name) + ": must be a positive integer, got " + describe(v));
      return fallback;
    }
    return v.longValue();
  }

  /** Any finite number; absent gives {@code fallback}. */
  public double decimal(String name, double fallback) {
    JsonNode v = get(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
      problem(key(name) + ": must be a number, got " + describe(v));
      return fallback;
    }
    return v.doubleValue();
  }

  /** A finite number >= 0; absent gives {@code fallback}. */
  public double nonNegativeDecimal(String name, double fallback) {
    double value = decimal(name, fallback);
    if (has(name) && value < 0) {
      problem(key(name) + ": must be >= 0, got " + value);
      return fallback;
    }
    return value;
  }

  /** A number > 0, or null when absent (or wrong). */
  public Double positiveDecimal(String name) {
    JsonNode v = get(name);
    if (v == null) {
      return null;
    }
    if (!v.isNumber() || !(v.doubleValue() > 0) || !Double.isFinite(v.doubleValue())) {
      problem(key(name) + ": must be a number > 0, got " + describe(v));
      return null;
    }
    return v.doubleValue();
  }

  /** The raw value of a field, or null when absent or null. */
  public JsonNode value(String name) {
    return get(name);
  }

  /** A port 1-65535, or 0 for "pick a free one"; absent gives {@code fallback}. */
  public int port(String name, int fallback) {
    int value = integer(name, fallback);
    if (has(name) && (value < 0 || value > 65535)) {
      problem(key(name) + ": must be a port number 1-65535 (or 0 for a free port), got " + value);
      return fallback;
    }
    return value;
  }

  /** true or false; absent gives {@code fallback}. */
  public boolean bool(String name, boolean fallback) {
    JsonNode v = get(name);
    if (v == null) {
      return fallback;
    }
    if (!v.isBoolean()) {
      problem(key(name) + ": must be true or false, got " + describe(v));
      return fallback;
    }
    return v.booleanValue();
  }

  /** How a value reads in an error message. */
  public static String describe(JsonNode node) {
    return switch (node.getNodeType()) {
      case ARRAY -> "a list";
      case OBJECT -> "a mapping";
      case STRING -> "the text '" + abbreviate(node.asText()) + "'";
      case NUMBER -> "the number " + node.asText();
      case BOOLEAN -> node.asText();
      case NULL, MISSING -> "nothing";
      default -> node.getNodeType().name().toLowerCase(Locale.ROOT);
    };
  }

  private static String abbreviate(String text) {
    return text.length() <= 60 ? text : text.substring(0, 57) + "...";
  }

  private String label() {
    return path.isEmpty() ? "the config" : path;
  }

  private JsonNode get(String name) {
    JsonNode map = raw();
    if (map == null) {
      return null;
    }
    JsonNode v = map.get(name);
    return v == null || v.isNull() ? null : v;
  }

  /** " - did you mean 'x'?" for a near-miss key (case, or one or two edits), else "". */
  static String suggestion(String key, String[] allowed) {
    for (String candidate : allowed) {
      int tolerance = Math.min(2, Math.max(1, candidate.length() / 3)); // "x" is not near "on"
      if (candidate.equalsIgnoreCase(key) || editDistance(candidate, key) <= tolerance) {
        return " - did you mean '" + candidate + "'?";
      }
    }
    return "";
  }

  private static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
