package dev.baton.gateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Collection;
import java.util.Locale;

/**
 * Checks {@code Authorization: Bearer <token>} headers. The scheme name is case-insensitive (RFC
 * 6750 / RFC 7235) and tokens are compared in constant time, so response timing does not reveal how
 * much of a guessed key was right.
 */
final class Credentials {

  private Credentials() {}

  /** The bearer token of an Authorization header value, or null when it carries none. */
  static String bearerToken(String authorization) {
    if (authorization == null || authorization.length() < 7) {
      return null;
    }
    if (!authorization.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
      return null;
    }
    String token = authorization.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  /** Whether the header carries one of {@code tokens}; every token is compared, always. */
  static boolean matches(String authorization, Collection<String> tokens) {
    String presented = bearerToken(authorization);
    byte[] given = (presented == null ? "" : presented).getBytes(StandardCharsets.UTF_8);
    boolean found = false;
    for (String token : tokens) {
      found |= MessageDigest.isEqual(given, token.getBytes(StandardCharsets.UTF_8));
    }
    return presented != null && found;
  }
}
