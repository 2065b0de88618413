package dev.baton.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class PdRatioTest {

  @Test
  void theShortRoleIsRaisedToItsShare() {
    // 1:2 wanted; decode scaling asked for 6 while prefill stayed at 1: prefill follows to 3
    assertThat(PdRatio.couple(1, 6, 0.5, 10, 10)).isEqualTo(new PdRatio.Counts(3, 6));
    // prefill burst to 4: decode follows to 8
    assertThat(PdRatio.couple(4, 2, 0.5, 10, 10)).isEqualTo(new PdRatio.Counts(4, 8));
    // already in ratio: unchanged
    assertThat(PdRatio.couple(2, 4, 0.5, 10, 10)).isEqualTo(new PdRatio.Counts(2, 4));
  }

  @Test
  void boundsWinOverTheRatio() {
    assertThat(PdRatio.couple(4, 2, 0.5, 10, 5)).isEqualTo(new PdRatio.Counts(4, 5));
  }

  @Test
  void aScriptedTraceKeepsTheRatioAsLoadRisesAndFalls() {
    int[][] decisions = {{1, 1}, {1, 3}, {2, 5}, {3, 3}, {1, 2}};
    int[][] expected = {{1, 2}, {2, 3}, {4, 5}, {3, 5}, {2, 2}};
    for (int i = 0; i < decisions.length; i++) {
      PdRatio.Counts c = PdRatio.couple(decisions[i][0], decisions[i][1], 2.0 / 3, 8, 8);
      assertThat(new int[] {c.prefill(), c.decode()}).as("step " + i).containsExactly(expected[i]);
    }
  }

  @Test
  void theRatioFollowsPromptAndOutputLengths() {
    // 1024-token prompt at 0.2 ms/token = 204.8 ms; 128 tokens at 8 ms per step of 16 = 64 ms
    assertThat(PdRatio.derive(204.8, 128, 8, 16)).isCloseTo(3.2, within(1e-9));
    // longer answers need relatively more decode
    assertThat(PdRatio.derive(204.8, 512, 8, 16)).isCloseTo(0.8, within(1e-9));
    assertThatThrownBy(() -> PdRatio.couple(1, 1, 0, 1, 1)).hasMessageContaining("ratio");
  }
}
