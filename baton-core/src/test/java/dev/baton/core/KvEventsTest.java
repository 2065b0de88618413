package dev.baton.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class KvEventsTest {

  @Test
  void aBatchRoundTripsInTheMapForm() {
    KvEvents.Batch batch =
        new KvEvents.Batch(
            1789095808.5,
            List.of(
                new KvEvents.BlockStored(
                    new long[] {-7L, 42L}, null, new int[] {1, 2, 3, 4}, 2, "tenant-a"),
                new KvEvents.BlockStored(new long[] {9L}, -7L, new int[] {5, 6}, 2, null),
                new KvEvents.BlockRemoved(new long[] {42L, Long.MIN_VALUE}),
                new KvEvents.AllBlocksCleared()));
    KvEvents.Batch back = KvEvents.decode(KvEvents.encode(batch));
    assertThat(back.ts()).isEqualTo(1789095808.5);
    assertThat(back.events()).hasSize(4);
    KvEvents.BlockStored first = (KvEvents.BlockStored) back.events().get(0);
    assertThat(first.blockHashes()).containsExactly(-7L, 42L);
    assertThat(first.parentBlockHash()).isNull();
    assertThat(first.tokenIds()).containsExactly(1, 2, 3, 4);
    assertThat(first.blockSize()).isEqualTo(2);
    assertThat(first.cacheSalt()).isEqualTo("tenant-a");
    KvEvents.BlockStored second = (KvEvents.BlockStored) back.events().get(1);
    assertThat(second.parentBlockHash()).isEqualTo(-7L);
    assertThat(second.cacheSalt()).isNull();
    assertThat(((KvEvents.BlockRemoved) back.events().get(2)).blockHashes())
        .containsExactly(42L, Long.MIN_VALUE);
    assertThat(back.events().get(3)).isInstanceOf(KvEvents.AllBlocksCleared.class);
  }

  @Test
  void theMapFormIsWhatVllmWritesTodayWithUnknownFieldsIgnored() {
    // [ts, [{type: BlockStored, ..., group_idx: 0, kv_cache_spec_kind: ...}], 0] as vLLM >= #42892
    // sends it: the u64 hash above Long.MAX_VALUE keeps its bits.
    MsgPack.Writer w = new MsgPack.Writer();
    w.array(3).float64(1.5).array(2);
    w.map(12).string("type").string("BlockStored");
    w.string("block_hashes").array(1).unsigned(0xDAB7_0000_0000_0001L);
    w.string("parent_block_hash").nil();
    w.string("token_ids").array(2).integer(151644).integer(872);
    w.string("block_size").integer(2);
    w.string("lora_id").nil();
    w.string("medium").string("GPU");
    w.string("lora_name").nil();
    w.string("extra_keys").array(1).nil();
    w.string("group_idx").integer(0);
    w.string("kv_cache_spec_kind").string("full_attention");
    w.string("kv_cache_spec_sliding_window").nil();
    w.map(1).string("type").string("SomeFutureEvent");
    w.integer(0);
    KvEvents.Batch b = KvEvents.decode(w.toByteArray());
    assertThat(b.events()).hasSize(1);
    KvEvents.BlockStored s = (KvEvents.BlockStored) b.events().get(0);
    assertThat(s.blockHashes()).containsExactly(0xDAB7_0000_0000_0001L);
    assertThat(s.tokenIds()).containsExactly(151644, 872);
    assertThat(s.cacheSalt()).isNull();
  }

  @Test
  void theOlderArrayFormAndByteHashesDecode() {
    // vLLM before the map switch: ["BlockStored", hashes, parent, tokens, block_size, lora, medium]
    byte[] hash = new byte[32];
    hash[0] = 1;
    hash[7] = 2;
    MsgPack.Writer w = new MsgPack.Writer();
    w.array(2).float64(2.0).array(2);
    w.array(7).string("BlockStored").array(1).binary(hash).integer(5);
    w.array(2).integer(7).integer(8).integer(2).nil().string("GPU");
    w.array(3).string("BlockRemoved").array(1).binary(hash).nil();
    KvEvents.Batch b = KvEvents.decode(w.toByteArray());
    KvEvents.BlockStored s = (KvEvents.BlockStored) b.events().get(0);
    assertThat(s.blockHashes()).containsExactly(0x0100_0000_0000_0002L);
    assertThat(s.parentBlockHash()).isEqualTo(5L);
    assertThat(s.blockSize()).isEqualTo(2);
    assertThat(((KvEvents.BlockRemoved) b.events().get(1)).blockHashes())
        .containsExactly(0x0100_0000_0000_0002L);
  }

  @Test
  void malformedMessagesAreClearErrors() {
    assertThatThrownBy(() -> KvEvents.decode(new byte[] {(byte) 0x93, 0x01}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("exceeds");
    // an array claiming 2^31-1 elements in 5 bytes must not allocate them
    assertThatThrownBy(
            () -> KvEvents.decode(new byte[] {(byte) 0xdd, 0x7f, (byte) 0xff, (byte) 0xff, -1}))
        .isInstanceOf(IllegalArgumentException.class);
    byte[] deep = new byte[100];
    java.util.Arrays.fill(deep, (byte) 0x91);
    assertThatThrownBy(() -> MsgPack.decode(deep))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nested");
    assertThatThrownBy(() -> KvEvents.decode(new MsgPack.Writer().string("x").toByteArray()))
        .isInstanceOf(IllegalArgumentException.class);
    MsgPack.Writer noType = new MsgPack.Writer();
    noType.array(2).float64(1).array(1).map(1).string("block_hashes").array(0);
    assertThatThrownBy(() -> KvEvents.decode(noType.toByteArray())).hasMessageContaining("type");
  }
}
