package dev.baton.kv.p2p;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.baton.kv.TransferStatus;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class LeaseTableTest {

  final Map<String, LeaseTable.End> freed = new ConcurrentHashMap<>();

  @Test
  void expiredLeaseFreesItsBlocks() {
    try (LeaseTable leases = new LeaseTable(150, freed::put)) {
      String token = leases.grant("r", new int[] {1, 2});
      await().atMost(Duration.ofSeconds(5)).until(() -> freed.get("r") == LeaseTable.End.EXPIRED);
      assertThat(leases.size()).isZero();
      TransferStatus[] status = new TransferStatus[1];
      assertThat(leases.pin("r", token, new int[] {1}, status)).isNull();
      assertThat(status[0]).isEqualTo(TransferStatus.LEASE_NOT_FOUND);
    }
  }

  @Test
  void pinnedLeaseIsFreedOnlyWhenTheReadEnds() {
    try (LeaseTable leases = new LeaseTable(60_000, freed::put)) {
      String token = leases.grant("r", new int[] {7});
      TransferStatus[] status = new TransferStatus[1];
      LeaseTable.Lease lease = leases.pin("r", token, new int[] {7}, status);
      assertThat(lease).isNotNull();
      assertThat(leases.release("r", token)).isTrue();
      assertThat(freed).isEmpty(); // a read is still copying these blocks
      assertThat(leases.pin("r", token, new int[] {7}, status)).isNull();
      leases.unpin(lease);
      assertThat(freed).containsEntry("r", LeaseTable.End.RELEASED);
      assertThat(leases.release("r", token)).isFalse();
    }
  }

  @Test
  void closeHandsEveryLeaseBack() {
    LeaseTable leases = new LeaseTable(60_000, freed::put);
    leases.grant("a", new int[] {1});
    leases.grant("b", new int[] {2});
    leases.close();
    assertThat(freed).containsOnlyKeys("a", "b").containsValue(LeaseTable.End.CLOSED);
  }

  @Test
  void oneLeasePerRequestAndTokensDiffer() {
    try (LeaseTable leases = new LeaseTable(60_000, freed::put)) {
      String a = leases.grant("a", new int[] {1});
      String b = leases.grant("b", new int[] {1});
      assertThat(a).isNotEqualTo(b).hasSizeGreaterThanOrEqualTo(20);
      assertThatThrownBy(() -> leases.grant("a", new int[] {3}))
          .isInstanceOf(IllegalStateException.class);
    }
  }
}
