package dev.baton.kv.offload;

import com.fasterxml.jackson.databind.JsonNode;
import dev.baton.core.config.ConfigNode;
import java.time.Duration;
import java.util.Locale;

/**
 * Options of the {@code OffloadConnector}, from {@code kv_connector_extra_config}:
 *
 * <pre>
 * {"l1_capacity": "256M", "l1_eviction": "s3fifo",
 *  "l2_url": "redis://127.0.0.1:6379/0", "l2_ttl_seconds": 0, "l2_timeout_ms": 200,
 *  "l2_key_prefix": "baton:kv:", "l2_wait_ms": 2000, "save_queue_blocks": 4096}
 * </pre>
 *
 * @param l1CapacityBytes host memory for L1 ({@code l1_capacity}: bytes, or with K/M/G)
 * @param l1Eviction s3fifo (default), lru or fifo
 * @param l2Url the Redis / Valkey server, or null for L1 only
 * @param l2TtlSeconds expiry of stored blocks; 0 keeps them until Redis evicts them
 * @param l2Timeout the longest one L2 read or write may take (a slower one is a miss)
 * @param l2KeyPrefix prefix of every Redis key (blocks are {@code prefix + hex(block hash)})
 * @param l2Wait how long a decode worker waits for a prefill worker's blocks to reach L2 (P/D
 *     through the cache) before computing the prompt itself
 * @param saveQueueBlocks blocks waiting to be saved at most; a save that does not fit is dropped
 *     and counted
 */
public record OffloadOptions(
    long l1CapacityBytes,
    String l1Eviction,
    String l2Url,
    long l2TtlSeconds,
    Duration l2Timeout,
    String l2KeyPrefix,
    Duration l2Wait,
    int saveQueueBlocks) {

  private static final String[] KEYS = {
    "l1_capacity",
    "l1_eviction",
    "l2_url",
    "l2_ttl_seconds",
    "l2_timeout_ms",
    "l2_key_prefix",
    "l2_wait_ms",
    "save_queue_blocks"
  };

  public OffloadOptions {
    if (l1CapacityBytes <= 0) {
      throw new IllegalArgumentException("l1_capacity must be positive");
    }
    EvictionPolicy.create(l1Eviction, 1); // names the accepted values when wrong
    if (l2TtlSeconds < 0) {
      throw new IllegalArgumentException("l2_ttl_seconds must be >= 0");
    }
    if (l2Timeout.isNegative() || l2Timeout.isZero()) {
      throw new IllegalArgumentException("l2_timeout_ms must be positive");
    }
    if (saveQueueBlocks <= 0) {
      throw new IllegalArgumentException("save_queue_blocks must be positive");
    }
    if (l2Url != null && !l2Url.startsWith("redis://") && !l2Url.startsWith("rediss://")) {
      throw new IllegalArgumentException(
          "l2_url must be a redis:// URL, e.g. redis://127.0.0.1:6379/0, got '" + l2Url + "'");
    }
  }

  /** Reads the options; every mistake is an IllegalArgumentException naming the key. */
  public static OffloadOptions fromJson(JsonNode extra) {
    ConfigNode n = ConfigNode.strict("kv_connector_extra_config", extra);
    n.only(KEYS);
    JsonNode capacity = n.value("l1_capacity");
    return new OffloadOptions(
        capacity == null || capacity.isNull() ? 256L << 20 : parseSize(capacity),
        n.text("l1_eviction", EvictionPolicy.S3FIFO).toLowerCase(Locale.ROOT),
        n.text("l2_url", null),
        n.nonNegativeInt("l2_ttl_seconds", 0),
        Duration.ofMillis(n.positiveLong("l2_timeout_ms", 200)),
        n.text("l2_key_prefix", "baton:kv:"),
        Duration.ofMillis(n.nonNegativeInt("l2_wait_ms", 2000)),
        n.nonNegativeInt("save_queue_blocks", 4096));
  }

  /** {@code 1073741824}, {@code "1G"}, {@code "256M"}, {@code "512K"} or {@code "2GiB"}. */
  static long parseSize(JsonNode node) {
    if (node.isIntegralNumber()) {
      return node.asLong();
    }
    String s = node.asText().trim().toUpperCase(Locale.ROOT);
    String digits = s.replaceFirst("(I?B)$", "");
    long unit = 1;
    if (!digits.isEmpty()) {
      switch (digits.charAt(digits.length() - 1)) {
        case 'K' -> unit = 1L << 10;
        case 'M' -> unit = 1L << 20;
        case 'G' -> unit = 1L << 30;
        case 'T' -> unit = 1L << 40;
        default -> unit = 1;
      }
      if (unit > 1) {
        digits = digits.substring(0, digits.length() - 1);
      }
    }
    try {
      return Math.multiplyExact(Long.parseLong(digits.trim()), unit);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException(
          "l1_capacity must be a size like \"256M\" or \"2G\", got " + node);
    }
  }
}
