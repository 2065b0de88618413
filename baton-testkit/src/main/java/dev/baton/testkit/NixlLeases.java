package dev.baton.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The KV a vLLM prefill worker holds for a decode worker to pull, and what the decode worker's
 * NixlConnector does with the {@code kv_transfer_params} it gets, read from vLLM's {@code
 * nixl/pull_scheduler.py} and {@code nixl/pull_worker.py}:
 *
 * <ul>
 *   <li>The prefill side holds a finished request's blocks for {@code kv_lease_duration} (30 s;
 *       before the lease, {@code VLLM_NIXL_ABORT_REQUEST_TIMEOUT}, 480 s) or until a decode worker
 *       notifies that it read them; then they are free for reuse. A notification for a request it
 *       no longer holds is only logged ("Potentially invalid KV blocks for unrecognized request ...
 *       They may have expired"): the decode side has already read whatever the blocks hold now, and
 *       answers 200 with that.
 *   <li>The decode side pulls every prompt block: its own prompt's block count must match the
 *       prefill's {@code remote_block_ids}.
 *   <li>{@code do_remote_prefill} with empty or missing {@code remote_block_ids}: the scheduler
 *       counted the prompt as external tokens and then asserts there are none; the engine core
 *       dies.
 *   <li>{@code remote_block_ids} present but {@code remote_engine_id}, {@code remote_host}, {@code
 *       remote_port} (or, from 0.12, {@code remote_request_id}) absent: "Got invalid
 *       KVTransferParams"; the request stays parked waiting for KV that is never read.
 * </ul>
 */
final class NixlLeases {

  /** What happens to a decode leg's pull. */
  enum Pull {
    /** The KV is read and the prefill's blocks freed. */
    READ,
    /** Blocks that were freed (expired, already read, never held) are read: wrong output. */
    STALE,
    /** The engine core dies: this and every later request fail. */
    ENGINE_DEAD,
    /** Parked forever waiting for KV. */
    PARKED
  }

  /** One prefill's held blocks: the prompt they hold, their count and until when. */
  record Lease(String prompt, int blocks, long expiresAtNanos) {}

  /** Blocks held by any prefill stand-in, by the request id a decode worker notifies. */
  private static final Map<String, Lease> HELD = new ConcurrentHashMap<>();

  private NixlLeases() {}

  static void hold(String requestId, String prompt, int blocks, long leaseMs) {
    HELD.put(requestId, new Lease(prompt, blocks, System.nanoTime() + leaseMs * 1_000_000));
  }

  /** Whether the request's blocks are still held (not read, not expired). */
  static boolean held(String requestId) {
    Lease l = HELD.get(requestId);
    return l != null && System.nanoTime() < l.expiresAtNanos();
  }

  /** Blocks of {@code tokens} tokens, as vLLM's cdiv(tokens, block_size). */
  static int blocks(int tokens, int blockSize) {
    return Math.max(1, (tokens + blockSize - 1) / blockSize);
  }

  /**
   * The decode side's pull of {@code kv} for a request whose prompt is {@code prompt}; {@code
   * notified} is the id it tells the prefill side (see {@link VllmStandIn}), null when it has none.
   * Every departure from vLLM's contract is added to {@code violations}.
   */
  static Pull pull(
      JsonNode kv,
      String notified,
      String prompt,
      int blockSize,
      boolean readsRequestId,
      List<String> violations) {
    int remoteBlocks = blockCount(kv.get("remote_block_ids"));
    if (remoteBlocks <= 0) {
      violations.add(
          "do_remote_prefill with no remote_block_ids: vLLM's scheduler asserts and its engine"
              + " core dies: "
              + kv);
      return Pull.ENGINE_DEAD;
    }
    for (String field :
        readsRequestId
            ? List.of("remote_engine_id", "remote_request_id", "remote_host", "remote_port")
            : List.of("remote_engine_id", "remote_host", "remote_port")) {
      if (!kv.has(field)) {
        violations.add(
            "Got invalid KVTransferParams (no "
                + field
                + "): vLLM parks the request waiting for KV that is never read: "
                + kv);
        return Pull.PARKED;
      }
    }
    Lease lease = notified == null ? null : HELD.remove(notified);
    if (lease == null || System.nanoTime() >= lease.expiresAtNanos()) {
      violations.add(
          "pull for request "
              + notified
              + (lease == null
                  ? ", which no prefill holds (read already, or never)"
                  : " after its lease expired")
              + ": the decode reads freed blocks");
      return Pull.STALE;
    }
    int localBlocks = blocks(VllmStandIn.tokenize(prompt).size(), blockSize);
    if (remoteBlocks != lease.blocks() || localBlocks != remoteBlocks) {
      violations.add(
          "decode prompt needs "
              + localBlocks
              + " blocks, remote_block_ids name "
              + remoteBlocks
              + " (the prefill held "
              + lease.blocks()
              + ")");
      return Pull.STALE;
    }
    if (!prompt.equals(lease.prompt())) {
      violations.add("decode prompt differs from the prefilled one: KV of another prompt");
      return Pull.STALE;
    }
    return Pull.READ;
  }

  /**
   * Blocks named by {@code remote_block_ids}: a flat list (older vLLM) or one list per KV-cache
   * group (current vLLM; the first group's length); 0 when absent or empty, -1 when malformed.
   */
  static int blockCount(JsonNode ids) {
    if (ids == null || !ids.isArray() || ids.isEmpty()) {
      return 0;
    }
    JsonNode first = ids.get(0);
    if (first.isArray()) {
      return first.size();
    }
    for (JsonNode id : ids) {
      if (!id.isIntegralNumber()) {
        return -1;
      }
    }
    return ids.size();
  }
}
