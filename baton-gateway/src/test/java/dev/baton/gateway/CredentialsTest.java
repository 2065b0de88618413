package dev.baton.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class CredentialsTest {

  @Test
  void bearerSchemeIsCaseInsensitiveAsRfc6750Says() {
    assertThat(Credentials.matches("Bearer k1", List.of("k1"))).isTrue();
    assertThat(Credentials.matches("bearer k1", List.of("k1"))).isTrue();
    assertThat(Credentials.matches("BEARER  k1 ", List.of("k0", "k1"))).isTrue();
  }

  @Test
  void wrongMissingOrPartialTokensAreRefused() {
    assertThat(Credentials.matches("Bearer k", List.of("k1"))).isFalse();
    assertThat(Credentials.matches("Bearer k12", List.of("k1"))).isFalse();
    assertThat(Credentials.matches("Basic k1", List.of("k1"))).isFalse();
    assertThat(Credentials.matches("Bearer ", List.of(""))).isFalse();
    assertThat(Credentials.matches(null, List.of("k1"))).isFalse();
    assertThat(Credentials.matches("Bearer k1", List.of())).isFalse();
  }
}
