package dev.baton.kv.offload;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Loads the longest stored prefix of a request's blocks from L2 into L1: {@code MGET}s of {@code
 * chunk} keys, each value's header and checksum checked in its off-heap read buffer, then one copy
 * into an L1 slot. With read-ahead the next {@code MGET} is already in flight while this thread
 * checks and copies the current one, so Lettuce's event loop (reading the socket) and this thread
 * (copying) work at once.
 */
public final class L2PrefixLoader {

  private L2PrefixLoader() {}

  /**
   * How many of {@code keys}, from the first, are in L1 after loading (stops at the first miss).
   */
  public static int load(
      L2Store l2, BlockCodec codec, L1Store l1, List<BlockKey> keys, int chunk, boolean readAhead) {
    if (chunk <= 0) {
      throw new IllegalArgumentException("chunk must be positive");
    }
    int loaded = 0;
    L2Store.Fetch next = l2.fetch(keys.subList(0, Math.min(keys.size(), chunk)));
    try {
      for (int from = 0; from < keys.size(); from += chunk) {
        List<BlockKey> part = keys.subList(from, Math.min(keys.size(), from + chunk));
        try (L2Store.Fetch current = next) {
          int after = from + chunk;
          next = null;
          if (readAhead && after < keys.size()) {
            next = l2.fetch(keys.subList(after, Math.min(keys.size(), after + chunk)));
          }
          MemorySegment[] values = current.await();
          for (int i = 0; i < part.size(); i++) {
            BlockKey key = part.get(i);
            long at = codec.payloadOffset(key.bytes(), values[i]);
            if (at < 0 || !l1.put(key, values[i], at)) {
              return loaded; // only a prefix is of use
            }
            loaded++;
          }
          if (!readAhead && after < keys.size()) {
            next = l2.fetch(keys.subList(after, Math.min(keys.size(), after + chunk)));
          }
        }
      }
      return loaded;
    } finally {
      if (next != null) {
        next.close(); // a read-ahead nobody needs: its buffers go back when it completes
      }
    }
  }
}
