package dev.baton.core;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * vLLM's KV cache events ({@code vllm/distributed/kv_events.py}), the shape Dynamo and llm-d
 * consume: a batch is the msgpack array {@code [ts, events, data_parallel_rank]}; each event is a
 * map tagged by {@code "type"} (vLLM since its switch to map encoding) or, from older vLLM, an
 * array whose first element is the tag. Both decode; Baton writes the map form.
 *
 * <p>Block hashes are vLLM's {@code ExternalBlockHash} ({@code int | bytes}); they are carried here
 * as a {@code long}: the int's 64 bits, or the first 8 bytes of a byte string.
 */
public final class KvEvents {

  private KvEvents() {}

  /** One change to a worker's prefix cache. */
  public sealed interface Event permits BlockStored, BlockRemoved, AllBlocksCleared {}

  /**
   * Consecutive full blocks of one sequence became cached. {@code parentBlockHash} names the block
   * before the first one (null: the first block starts the sequence); {@code tokenIds} holds every
   * block's tokens, {@code blockSize} each; {@code cacheSalt} is the request's {@code cache_salt}
   * (vLLM puts it in block 0's {@code extra_keys}), or null.
   */
  public record BlockStored(
      long[] blockHashes, Long parentBlockHash, int[] tokenIds, int blockSize, String cacheSalt)
      implements Event {}

  /** Blocks left the cache (evicted or reset). */
  public record BlockRemoved(long[] blockHashes) implements Event {}

  /** The whole cache was dropped. */
  public record AllBlocksCleared() implements Event {}

  /** One published message: its wall time in seconds and its events in order. */
  public record Batch(double ts, List<Event> events) {}

  /** The medium vLLM names for device memory. */
  private static final String MEDIUM = "GPU";

  /** A batch as vLLM publishes it today: positional batch, events as tagged maps. */
  public static byte[] encode(Batch batch) {
    MsgPack.Writer w = new MsgPack.Writer();
    w.array(3).float64(batch.ts()).array(batch.events().size());
    for (Event e : batch.events()) {
      switch (e) {
        case BlockStored s -> {
          w.map(9).string("type").string("BlockStored");
          hashes(w.string("block_hashes"), s.blockHashes());
          w.string("parent_block_hash");
          if (s.parentBlockHash() == null) {
            w.nil();
          } else {
            w.unsigned(s.parentBlockHash());
          }
          w.string("token_ids").array(s.tokenIds().length);
          for (int t : s.tokenIds()) {
            w.integer(t);
          }
          w.string("block_size").integer(s.blockSize());
          w.string("lora_id").nil();
          w.string("medium").string(MEDIUM);
          w.string("lora_name").nil();
          w.string("extra_keys").array(s.blockHashes().length);
          for (int i = 0; i < s.blockHashes().length; i++) {
            if (i == 0 && s.cacheSalt() != null) {
              w.array(1).string(s.cacheSalt());
            } else {
              w.nil();
            }
          }
        }
        case BlockRemoved r -> {
          w.map(3).string("type").string("BlockRemoved");
          hashes(w.string("block_hashes"), r.blockHashes());
          w.string("medium").string(MEDIUM);
        }
        case AllBlocksCleared c -> w.map(1).string("type").string("AllBlocksCleared");
      }
    }
    w.integer(0);
    return w.toByteArray();
  }

  private static void hashes(MsgPack.Writer w, long[] hashes) {
    w.array(hashes.length);
    for (long h : hashes) {
      w.unsigned(h);
    }
  }

  /**
   * Decodes a batch in either vLLM encoding. Unknown event types and unknown fields are skipped
   * (the schema grows); a malformed batch throws {@link IllegalArgumentException}.
   */
  public static Batch decode(byte[] payload) {
    Object root = MsgPack.decode(payload);
    Object ts;
    Object events;
    if (root instanceof List<?> l && l.size() >= 2) {
      ts = l.get(0);
      events = l.get(1);
    } else if (root instanceof Map<?, ?> m) {
      ts = m.get("ts");
      events = m.get("events");
    } else {
      throw new IllegalArgumentException("a KV event batch is [ts, events, ...]");
    }
    if (!(ts instanceof Number) || !(events instanceof List<?> list)) {
      throw new IllegalArgumentException("a KV event batch needs a numeric ts and an event list");
    }
    List<Event> out = new ArrayList<>(list.size());
    for (Object e : list) {
      Event decoded = event(e);
      if (decoded != null) {
        out.add(decoded);
      }
    }
    return new Batch(((Number) ts).doubleValue(), out);
  }

  private static Event event(Object raw) {
    String type;
    Fields f;
    if (raw instanceof Map<?, ?> m) {
      type = m.get("type") instanceof String s ? s : null;
      f = m::get;
    } else if (raw instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof String s) {
      type = s;
      f = name -> positional(l, type, name);
    } else {
      throw new IllegalArgumentException("a KV event is a tagged map or a tagged array");
    }
    if (type == null) {
      throw new IllegalArgumentException("a KV event map lacks its \"type\"");
    }
    return switch (type) {
      case "BlockStored" ->
          new BlockStored(
              hashList(f.get("block_hashes")),
              f.get("parent_block_hash") == null ? null : hash(f.get("parent_block_hash")),
              ints(f.get("token_ids")),
              (int) number(f.get("block_size"), "block_size"),
              salt(f.get("extra_keys")));
      case "BlockRemoved" -> new BlockRemoved(hashList(f.get("block_hashes")));
      case "AllBlocksCleared" -> new AllBlocksCleared();
      default -> null;
    };
  }

  @FunctionalInterface
  private interface Fields {
    Object get(String name);
  }

  /** Field positions of the array form, after the tag (vLLM's declaration order). */
  private static Object positional(List<?> l, String type, String name) {
    List<String> order =
        switch (type) {
          case "BlockStored" ->
              List.of(
                  "block_hashes",
                  "parent_block_hash",
                  "token_ids",
                  "block_size",
                  "lora_id",
                  "medium",
                  "lora_name",
                  "extra_keys");
          case "BlockRemoved" -> List.of("block_hashes", "medium");
          default -> List.of();
        };
    int i = order.indexOf(name) + 1;
    return i > 0 && i < l.size() ? l.get(i) : null;
  }

  private static long[] hashList(Object raw) {
    if (!(raw instanceof List<?> l)) {
      throw new IllegalArgumentException("block_hashes must be a list");
    }
    long[] out = new long[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = hash(l.get(i));
    }
    return out;
  }

  private static long hash(Object raw) {
    if (raw instanceof Long v) {
      return v;
    }
    if (raw instanceof byte[] b && b.length >= 8) {
      return ByteBuffer.wrap(b, 0, 8).getLong();
    }
    if (raw instanceof byte[] b) {
      long v = 0;
      for (byte x : b) {
        v = (v << 8) | (x & 0xff);
      }
      return v;
    }
    throw new IllegalArgumentException("a block hash is an integer or bytes");
  }

  private static int[] ints(Object raw) {
    if (!(raw instanceof List<?> l)) {
      throw new IllegalArgumentException("token_ids must be a list");
    }
    int[] out = new int[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (int) number(l.get(i), "token_ids");
    }
    return out;
  }

  private static long number(Object raw, String field) {
    if (raw instanceof Long v) {
      return v;
    }
    throw new IllegalArgumentException(field + " must be an integer");
  }

  /** The string elements of block 0's extra keys (its cache salt), or null. */
  private static String salt(Object extraKeys) {
    if (!(extraKeys instanceof List<?> blocks) || blocks.isEmpty()) {
      return null;
    }
    if (!(blocks.get(0) instanceof List<?> first)) {
      return null;
    }
    StringBuilder sb = new StringBuilder();
    for (Object k : first) {
      if (k instanceof String s) {
        sb.append(sb.isEmpty() ? "" : "\u0000").append(s);
      }
    }
    return sb.isEmpty() ? null : sb.toString();
  }
}
