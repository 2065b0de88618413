package dev.baton.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class BlockHashTest {

  @Test
  void onlyFullBlocksAreHashedAndChainsShareTheirPrefix() {
    int[] a = new int[40];
    int[] b = new int[40];
    for (int i = 0; i < 40; i++) {
      a[i] = i;
      b[i] = i < 20 ? i : 1000 + i;
    }
    List<byte[]> ha = BlockHash.chain(a, 40, 16, "m");
    List<byte[]> hb = BlockHash.chain(b, 40, 16, "m");
    assertThat(ha).hasSize(2);
    assertThat(ha.get(0)).isEqualTo(hb.get(0));
    assertThat(ha.get(1)).isNotEqualTo(hb.get(1));
  }

  @Test
  void differentSaltsNeverShareABlock() {
    int[] tokens = new int[16];
    String salted = BlockHash.extraKeys("m", "f32", "tenant-a");
    String other = BlockHash.extraKeys("m", "f32", "tenant-b");
    assertThat(BlockHash.chain(tokens, 16, 16, salted).get(0))
        .isNotEqualTo(BlockHash.chain(tokens, 16, 16, other).get(0));
  }
}
