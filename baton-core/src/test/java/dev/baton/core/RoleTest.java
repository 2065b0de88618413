package dev.baton.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RoleTest {

  @Test
  void wireAndKvRoleNamesRoundTrip() {
    for (Role role : Role.values()) {
      assertThat(Role.parse(role.wireName())).isEqualTo(role);
      assertThat(Role.fromKvRoleName(role.kvRoleName())).isEqualTo(role);
    }
    assertThat(Role.PREFILL.kvRoleName()).isEqualTo("kv_producer");
    assertThat(Role.DECODE.kvRoleName()).isEqualTo("kv_consumer");
    assertThat(Role.parse("colocated")).isEqualTo(Role.BOTH);
  }

  @Test
  void capabilitiesFollowTheRole() {
    assertThat(Role.PREFILL.canPrefill()).isTrue();
    assertThat(Role.PREFILL.canDecode()).isFalse();
    assertThat(Role.DECODE.canPrefill()).isFalse();
    assertThat(Role.BOTH.canPrefill() && Role.BOTH.canDecode()).isTrue();
  }

  @Test
  void unknownNamesAreClearErrors() {
    assertThatThrownBy(() -> Role.parse("prefil"))
        .hasMessage("role must be prefill, decode or both, not 'prefil'");
    assertThatThrownBy(() -> Role.fromKvRoleName("kv_decoder")).hasMessageContaining("kv_role");
  }
}
