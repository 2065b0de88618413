package dev.baton.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.core.Json;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigNodeTest {

  @Test
  void readsTypedValuesWithFallbacks() {
    ConfigNode n =
        ConfigNode.strict(
            "",
            Json.parse(
                "{\"a\":\"x\",\"n\":3,\"d\":1.5,\"b\":true,\"l\":[\"p\",\"q\"],\"m\":{\"k\":7}}"));
    assertThat(n.text("a", null)).isEqualTo("x");
    assertThat(n.integer("n", 0)).isEqualTo(3);
    assertThat(n.decimal("d", 0)).isEqualTo(1.5);
    assertThat(n.bool("b", false)).isTrue();
    assertThat(n.strings("l")).containsExactly("p", "q");
    assertThat(n.child("m").integer("k", 0)).isEqualTo(7);
    assertThat(n.text("missing", "fallback")).isEqualTo("fallback");
    assertThat(n.child("missing").present()).isFalse();
  }

  @Test
  void strictErrorsNameTheKeyPath() {
    ConfigNode n =
        ConfigNode.strict("", Json.parse("{\"pools\":[{\"port\":\"x\",\"polcy\":1,\"n\":-1}]}"));
    ConfigNode pool = n.list("pools").getFirst();
    assertThatThrownBy(() -> pool.integer("port", 0))
        .isInstanceOf(ConfigException.class)
        .hasMessage("pools[0].port: must be an integer, got the text 'x'");
    assertThatThrownBy(() -> pool.only("policy", "port", "n"))
        .hasMessageContaining("unknown key 'pools[0].polcy' - did you mean 'policy'?");
    assertThatThrownBy(() -> pool.nonNegativeInt("n", 0))
        .hasMessage("pools[0].n: must not be negative, got -1");
    assertThatThrownBy(() -> n.child("pools")).hasMessage("pools: must be a mapping, got a list");
  }

  @Test
  void collectingReaderReportsEveryProblemAndUsesFallbacks() {
    List<String> problems = new ArrayList<>();
    ConfigNode n =
        ConfigNode.collecting(
            "spec", Json.parse("{\"port\":70000,\"on\":\"yes\",\"x\":1}"), problems);
    n.only("port", "on");
    assertThat(n.port("port", 8000)).isEqualTo(8000);
    assertThat(n.bool("on", false)).isFalse();
    assertThat(n.positiveLong("missing", 5)).isEqualTo(5);
    assertThat(problems)
        .containsExactly(
            "unknown key 'spec.x' (allowed: on, port)",
            "spec.port: must be a port number 1-65535 (or 0 for a free port), got 70000",
            "spec.on: must be true or false, got the text 'yes'");
  }
}
