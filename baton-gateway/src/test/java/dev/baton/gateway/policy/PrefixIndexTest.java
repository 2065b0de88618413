package dev.baton.gateway.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixIndexTest {
  @Test
  void leadingMatchesPerWorker() {
    PrefixIndex index = new PrefixIndex(1024);
    index.record(new long[] {10, 11, 12}, 0);
    index.record(new long[] {10, 11, 40}, 1);
    int[] m = index.leadingMatches(new long[] {10, 11, 12, 13});
    assertThat(m[0]).isEqualTo(3);
    assertThat(m[1]).isEqualTo(2);
    assertThat(m[2]).isZero();
    // A gap stops the match: block 2 unknown for worker 1 means blocks after it do not count.
    index.record(new long[] {13}, 1);
    assertThat(index.leadingMatches(new long[] {10, 11, 12, 13})[1]).isEqualTo(2);
    index.clearSlot(0);
    assertThat(index.leadingMatches(new long[] {10, 11, 12})[0]).isZero();
  }

  @Test
  void aMillionDistinctPromptsKeepItsMemoryBounded() {
    int capacity = 1 << 16;
    PrefixIndex index = new PrefixIndex(capacity);
    PromptKeys keys = new PromptKeys(null, 16, 64);
    long bytes = index.memoryBytes();
    Random random = new Random(42);
    ObjectNode body = Json.object();
    long[] recent = null;
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long heapBefore = rt.totalMemory() - rt.freeMemory();
    for (int i = 0; i < 1_000_000; i++) {
      body.put(
          "prompt", "prompt " + i + " " + Long.toHexString(random.nextLong()) + " ".repeat(120));
      recent = keys.of(body, false).blockKeys();
      index.record(recent, i % 8);
    }
    System.gc();
    long heapAfter = rt.totalMemory() - rt.freeMemory();
    assertThat(index.memoryBytes()).isEqualTo(bytes).isLessThan(2L << 20);
    assertThat(index.size()).isLessThanOrEqualTo(index.capacity());
    assertThat(index.size()).isGreaterThan(index.capacity() / 2);
    // Nothing else grew with the prompts (generous bound: GC noise, JIT, test objects).
    assertThat(heapAfter - heapBefore).isLessThan(64L << 20);
    // The most recent prompt is still known.
    assertThat(index.leadingMatches(recent)[999_999 % 8]).isEqualTo(recent.length);
  }

  @Test
  void charChunksAndTokenBlocksDescribeTheSamePrefixTheSameWay() {
    PromptKeys chars = new PromptKeys(null, 16, 8);
    ObjectNode a = (ObjectNode) Json.parse("{\"model\":\"m\",\"prompt\":\"0123456789abcdefXYZ\"}");
    ObjectNode b = (ObjectNode) Json.parse("{\"model\":\"m\",\"prompt\":\"0123456789abcdefQQQ\"}");
    assertThat(chars.of(a, false).blockKeys()).containsExactly(chars.of(b, false).blockKeys());
    ObjectNode salted = a.deepCopy().put("cache_salt", "tenant-2");
    assertThat(chars.of(salted, false).blockKeys()[0])
        .isNotEqualTo(chars.of(a, false).blockKeys()[0]);
    PromptKeys tokens = new PromptKeys(text -> text.chars().map(c -> c % 7).toArray(), 4, 64);
    assertThat(tokens.usesTokenizer()).isTrue();
    assertThat(tokens.of(a, false).blockKeys()).hasSize(19 / 4);
    ObjectNode ids = (ObjectNode) Json.parse("{\"prompt\":[1,2,3,4,5,6,7,8,9]}");
    assertThat(tokens.of(ids, false).blockKeys()).hasSize(2);
    assertThat(tokens.of(ids, false).tokens()).isEqualTo(9);
  }
}
