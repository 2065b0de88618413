package dev.baton.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BackendTest {

  @Test
  void theCpuBackendIsFoundThroughTheServiceLoader() {
    assertThat(Backend.all()).extracting(Backend::name).contains("cpu");
    assertThat(Backend.byName("cpu").available()).isTrue();
    assertThat(Backend.auto().available()).isTrue();
    assertThat(Backend.byName("auto").name()).isEqualTo(Backend.auto().name());
  }

  @Test
  void anUnknownBackendNamesTheKnownOnes() {
    assertThatThrownBy(() -> Backend.byName("tpu"))
        .hasMessageContaining("unknown backend 'tpu'")
        .hasMessageContaining("cpu");
  }
}
