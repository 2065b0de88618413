package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.model.internal.LongLongMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LongLongMapTest {
  @Test
  void behavesLikeAHashMap() {
    Random rnd = new Random(1);
    LongLongMap m = new LongLongMap(5000);
    Map<Long, Long> ref = new HashMap<>();
    for (int i = 0; i < 5000; i++) {
      long k = rnd.nextInt(20000) | ((long) rnd.nextInt(50) << 32);
      long v = rnd.nextLong() & Long.MAX_VALUE;
      assertThat(m.putIfAbsent(k, v)).isEqualTo(ref.putIfAbsent(k, v) == null);
    }
    assertThat(m.size()).isEqualTo(ref.size());
    for (long k = 0; k < 20000; k++) {
      for (long hi = 0; hi < 3; hi++) {
        long key = k | (hi << 32);
        assertThat(m.get(key, -1)).isEqualTo(ref.getOrDefault(key, -1L));
      }
    }
  }
}
