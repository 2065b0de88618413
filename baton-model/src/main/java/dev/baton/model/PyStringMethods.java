package dev.baton.model;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python {@code str} methods for chat templates: Hugging Face renders templates with Python's
 * Jinja, where {@code message.content.startswith('x')} or {@code .split('</think>')[-1]} call
 * Python string methods that Java strings lack. This resolver answers those calls on strings and
 * leaves everything else to Jinjava.
 */
final class PyStringMethods extends ELResolver {

  @Override
  public Object invoke(
      ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (!(base instanceof String s) || method == null) {
      return null;
    }
    Object[] p = params == null ? new Object[0] : params;
    Object result = call(s, method.toString(), p);
    if (result != NOT_HANDLED) {
      context.setPropertyResolved(true);
      return result;
    }
    return null;
  }

  private static final Object NOT_HANDLED = new Object();

  private static Object call(String s, String name, Object[] p) {
    return switch (name) {
      case "startswith" -> affix(s, p, true);
      case "endswith" -> affix(s, p, false);
      case "strip" -> strip(s, chars(p), true, true);
      case "lstrip" -> strip(s, chars(p), true, false);
      case "rstrip" -> strip(s, chars(p), false, true);
      case "split" -> split(s, p.length > 0 && p[0] != null ? p[0].toString() : null, maxSplit(p));
      case "upper" -> s.toUpperCase(Locale.ROOT);
      case "lower" -> s.toLowerCase(Locale.ROOT);
      case "title" -> title(s);
      case "capitalize" ->
          s.isEmpty()
              ? s
              : s.substring(0, 1).toUpperCase(Locale.ROOT)
                  + s.substring(1).toLowerCase(Locale.ROOT);
      case "replace" -> p.length >= 2 ? s.replace(p[0].toString(), p[1].toString()) : NOT_HANDLED;
      case "find" -> p.length >= 1 ? s.indexOf(p[0].toString()) : NOT_HANDLED;
      case "count" -> p.length >= 1 ? count(s, p[0].toString()) : NOT_HANDLED;
      case "join" -> p.length == 1 && p[0] instanceof Iterable<?> it ? join(s, it) : NOT_HANDLED;
      case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
      case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
      default -> NOT_HANDLED;
    };
  }

  private static boolean affix(String s, Object[] p, boolean prefix) {
    if (p.length == 0) {
      return false;
    }
    List<String> options = new ArrayList<>();
    if (p[0] instanceof Iterable<?> it) {
      it.forEach(o -> options.add(String.valueOf(o)));
    } else {
      options.add(String.valueOf(p[0]));
    }
    for (String o : options) {
      if (prefix ? s.startsWith(o) : s.endsWith(o)) {
        return true;
      }
    }
    return false;
  }

  private static String chars(Object[] p) {
    return p.length > 0 && p[0] != null ? p[0].toString() : null;
  }

  private static String strip(String s, String chars, boolean left, boolean right) {
    int from = 0;
    int to = s.length();
    while (left && from < to && stripped(s.charAt(from), chars)) {
      from++;
    }
    while (right && to > from && stripped(s.charAt(to - 1), chars)) {
      to--;
    }
    return s.substring(from, to);
  }

  private static boolean stripped(char c, String chars) {
    return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
  }

  private static int maxSplit(Object[] p) {
    return p.length > 1 && p[1] instanceof Number n ? n.intValue() : -1;
  }

  private static List<String> split(String s, String sep, int maxSplit) {
    List<String> out = new ArrayList<>();
    if (sep == null) {
      for (String part : s.strip().split("\\s+")) {
        if (!part.isEmpty()) {
          out.add(part);
        }
      }
      return out;
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    int from = 0;
    int at;
    while ((maxSplit < 0 || out.size() < maxSplit) && (at = s.indexOf(sep, from)) >= 0) {
      out.add(s.substring(from, at));
      from = at + sep.length();
    }
    out.add(s.substring(from));
    return out;
  }

  private static String title(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean start = true;
    for (char c : s.toCharArray()) {
      sb.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
      start = !Character.isLetter(c);
    }
    return sb.toString();
  }

  private static int count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String sep, Iterable<?> items) {
    StringBuilder sb = new StringBuilder();
    for (Object o : items) {
      if (!sb.isEmpty()) {
        sb.append(sep);
      }
      sb.append(o);
    }
    return sb.toString();
  }

  // Property access is not ours: report "not resolved" for everything else.

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {
    // not ours
  }
}
