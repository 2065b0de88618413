package dev.baton.kv.p2p;

import dev.baton.kv.TransferStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Blocks a producer keeps for a decode pull after the prefill finished. Each lease is named by the
 * request id and a random token; a reader must present both. A lease ends when the reader releases
 * it or when it expires; its blocks are then handed back through the {@code onFreed} callback, but
 * never while a read still pins them (a read in flight finishes on unchanged memory).
 */
public final class LeaseTable implements AutoCloseable {

  /** Why a lease ended. */
  public enum End {
    RELEASED,
    EXPIRED,
    CLOSED
  }

  /** One live lease. Mutable state is guarded by the table's lock. */
  static final class Lease {
    final String requestId;
    final byte[] token;
    final int[] blockIds;
    final long expiresAtNanos;
    int pins;
    End end; // set when released or expired; freed once pins drops to 0

    Lease(String requestId, byte[] token, int[] blockIds, long expiresAtNanos) {
      this.requestId = requestId;
      this.token = token;
      this.blockIds = blockIds;
      this.expiresAtNanos = expiresAtNanos;
    }

    boolean contains(int blockId) {
      for (int id : blockIds) {
        if (id == blockId) {
          return true;
        }
      }
      return false;
    }
  }

  private final long leaseNanos;
  private final BiConsumer<String, End> onFreed;
  private final Map<String, Lease> leases = new HashMap<>();
  private final SecureRandom random = new SecureRandom();
  private final ScheduledExecutorService sweeper;

  /**
   * @param leaseMillis how long a lease lives without being released
   * @param onFreed called (outside the lock, on any thread) with the request id once its blocks are
   *     free to reuse
   */
  public LeaseTable(long leaseMillis, BiConsumer<String, End> onFreed) {
    if (leaseMillis <= 0) {
      throw new IllegalArgumentException("lease must be positive");
    }
    this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    this.onFreed = onFreed;
    this.sweeper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "baton-kv-lease-sweeper");
              t.setDaemon(true);
              return t;
            });
    long period = Math.clamp(leaseMillis / 4, 10, 1000);
    sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
  }

  /** Puts {@code blockIds} under a new lease for {@code requestId} and returns its token. */
  public String grant(String requestId, int[] blockIds) {
    byte[] raw = new byte[18];
    random.nextBytes(raw);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    Lease lease =
        new Lease(
            requestId,
            token.getBytes(StandardCharsets.US_ASCII),
            blockIds.clone(),
            System.nanoTime() + leaseNanos);
    synchronized (this) {
      if (leases.containsKey(requestId)) {
        throw new IllegalStateException("request " + requestId + " already holds a lease");
      }
      leases.put(requestId, lease);
    }
    return token;
  }

  /**
   * Pins the lease for a read of {@code wanted} blocks. Returns the lease (the caller must {@link
   * #unpin} it) or null with {@code status[0]} saying why not.
   */
  Lease pin(String requestId, String token, int[] wanted, TransferStatus[] status) {
    synchronized (this) {
      Lease lease = leases.get(requestId);
      if (lease == null
          || lease.end != null
          || !MessageDigest.isEqual(lease.token, token.getBytes(StandardCharsets.US_ASCII))
          || System.nanoTime() - lease.expiresAtNanos > 0) {
        status[0] = TransferStatus.LEASE_NOT_FOUND;
        return null;
      }
      for (int id : wanted) {
        if (!lease.contains(id)) {
          status[0] = TransferStatus.BLOCK_NOT_IN_LEASE;
          return null;
        }
      }
      lease.pins++;
      status[0] = TransferStatus.OK;
      return lease;
    }
  }

  void unpin(Lease lease) {
    boolean free;
    synchronized (this) {
      lease.pins--;
      free = lease.pins == 0 && lease.end != null && leases.remove(lease.requestId, lease);
    }
    if (free) {
      onFreed.accept(lease.requestId, lease.end);
    }
  }

  /** Ends the lease if id and token match; false when there is no such live lease. */
  public boolean release(String requestId, String token) {
    Lease lease;
    synchronized (this) {
      lease = leases.get(requestId);
      if (lease == null
          || lease.end != null
          || !MessageDigest.isEqual(lease.token, token.getBytes(StandardCharsets.US_ASCII))) {
        return false;
      }
      lease.end = End.RELEASED;
      if (lease.pins > 0) {
        return true; // freed by the last unpin
      }
      leases.remove(requestId);
    }
    onFreed.accept(requestId, End.RELEASED);
    return true;
  }

  /** Ends every lease whose time is up. Runs periodically; tests may call it directly. */
  public void expireDue() {
    endWhere(End.EXPIRED, false);
  }

  private void sweep() {
    try {
      expireDue();
    } catch (RuntimeException e) {
      // A failing callback must not stop the sweeper, or later leases would never expire.
      System.getLogger(LeaseTable.class.getName())
          .log(System.Logger.Level.WARNING, "lease expiry callback failed", e);
    }
  }

  /** Live leases (released or expired ones still pinned by a read count until freed). */
  public synchronized int size() {
    return leases.size();
  }

  /** Ends all leases (their blocks are handed back once no read pins them) and stops sweeping. */
  @Override
  public void close() {
    sweeper.shutdownNow();
    endWhere(End.CLOSED, true);
  }

  private void endWhere(End why, boolean all) {
    List<Lease> freed = new ArrayList<>();
    long now = System.nanoTime();
    synchronized (this) {
      for (var it = leases.values().iterator(); it.hasNext(); ) {
        Lease lease = it.next();
        if (lease.end == null && (all || now - lease.expiresAtNanos > 0)) {
          lease.end = why;
          if (lease.pins == 0) {
            it.remove();
            freed.add(lease);
          }
        }
      }
    }
    for (Lease lease : freed) {
      onFreed.accept(lease.requestId, lease.end);
    }
  }
}
